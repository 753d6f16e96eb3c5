"""Contract A: the Vertex AI / Gemini reinforcement tuning `cloudRunRewardScorer` call.

Request: {"example": ReinforcementTuningExample, "response": Content,
"metadata": {"step", "tuning_job_id"}} in ProtoJSON (camelCase or
snake_case, int64 as string or number). Answer: {"reward": float in [-1, 1],
"user_requested_aux_info": str}.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel
from pydantic_core import to_json

from .._errors import BAD_ANSWER
from .._outcome import DATA_FAULTS, Outcome
from .._registry import AnySpec
from .._sample import Media, Message, Metadata, Sample, ToolCall
from ..media._parts import from_uri, kind_of, unknown_part
from .base import (
    SCHEMA_REF,
    Answer,
    Contract,
    ErrorResponse,
    OpenAPIEntry,
    Parsed,
    Prompt,
    Response,
    content_text,
    unscored_answer,
)

PLATFORM = "vertex"
# "All rewards are clipped to the range [-1, 1]; any value outside that range is clipped." (Vertex AI,
# reinforcement tuning, "Reward functions": docs.cloud.google.com/.../reinforcement-tuning-job/reward-functions)
REWARD_RANGE = (-1.0, 1.0)


class _ProtoJSON(BaseModel):
    # ProtoJSON readers accept camelCase and the original snake_case names.
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="allow")


class FunctionCall(_ProtoJSON):
    name: str = ""
    args: Optional[dict[str, Any]] = None
    id: Optional[str] = None


class FunctionResponse(_ProtoJSON):
    name: str = ""
    response: Optional[dict[str, Any]] = None
    id: Optional[str] = None


class Blob(_ProtoJSON):
    """`inlineData`: base64 bytes and their MIME type."""

    mime_type: str = ""
    data: str = ""


class FileData(_ProtoJSON):
    """`fileData`: a Cloud Storage (or https) URI and its MIME type."""

    mime_type: str = ""
    file_uri: str


class Part(_ProtoJSON):
    """A part of a Content; kinds a reward does not read (executableCode, ...) are kept as extra fields."""

    text: Optional[str] = None
    inline_data: Optional[Blob] = None
    file_data: Optional[FileData] = None
    thought: Optional[bool] = None
    thought_signature: Optional[str] = None
    function_call: Optional[FunctionCall] = None
    function_response: Optional[FunctionResponse] = None


class Content(_ProtoJSON):
    role: Optional[str] = None
    parts: list[Part] = Field(default_factory=list)


class ReinforcementTuningExample(_ProtoJSON):
    """One line of the tuning dataset, as the platform forwards it."""

    contents: list[Content] = Field(default_factory=list)
    system_instruction: Optional[Content] = None
    references: Optional[dict[str, Any]] = None


class VertexMetadata(_ProtoJSON):
    step: Optional[int] = None
    # The API reference says tuning_job_id, the reward-functions guide tuningJobId.
    tuning_job_id: Optional[int] = Field(
        default=None, validation_alias=AliasChoices("tuning_job_id", "tuningJobId")
    )


class VertexRewardRequest(_ProtoJSON):
    """The body Vertex AI posts to a Cloud Run reward scorer."""

    example: ReinforcementTuningExample
    response: Content
    metadata: Optional[VertexMetadata] = None


class VertexRewardResponse(BaseModel):
    """The answer: a finite reward (the platform clips it to [-1, 1]) and optional debug text."""

    reward: float
    user_requested_aux_info: Optional[str] = None


class VertexErrorResponse(BaseModel):
    """HTTP 500 body when a reward fails and declares no fallback score."""

    message: str
    reward: str
    error_code: str
    error: str


# ---- wire -> samples -------------------------------------------------------------

# Part fields that carry no media and no text a reward reads (Content.parts in the Vertex API reference): kept
# silently. Any other field is a part kind this module does not know, reported as an `other` Media.
_QUIET_FIELDS = frozenset({"video_metadata", "videoMetadata", "executable_code", "executableCode",
                           "code_execution_result", "codeExecutionResult", "media_resolution", "mediaResolution",
                           "part_metadata", "partMetadata"})


def _media(part: Part) -> Media | None:
    """An `inlineData` part stays a lazy data: URI (decoded once, when a reward asks for media)."""
    unknown = set(part.model_extra or ()) - _QUIET_FIELDS
    if unknown:
        return unknown_part(sorted(unknown)[0], part.model_dump(by_alias=True, exclude_none=True))
    if part.inline_data is not None:
        blob = part.inline_data
        return Media(kind_of(blob.mime_type), blob.mime_type.lower(), uri=f"data:{blob.mime_type};base64,{blob.data}")
    if part.file_data is not None:
        return from_uri(kind_of(part.file_data.mime_type), part.file_data.file_uri, part.file_data.mime_type)
    return None


def _message(content: Content, default_role: str) -> Message:
    texts: list[str] = []
    thoughts: list[str] = []
    calls, responses = [], []
    media: list[Media] = []
    for part in content.parts:
        found = _media(part)
        if found is not None:
            media.append(found)
        if part.text is not None:
            (thoughts if part.thought else texts).append(part.text)
        if part.function_call is not None:
            fc = part.function_call
            calls.append(ToolCall(fc.name, json.dumps(fc.args or {}, ensure_ascii=False), fc.id))
        if part.function_response is not None:
            responses.append(part.function_response)
    role = {"model": "assistant"}.get(content.role or default_role, content.role or default_role)
    if responses and not texts and not calls:
        first = responses[0]
        body = "".join(json.dumps(r.response or {}, ensure_ascii=False) for r in responses)
        return Message("tool", body, tool_call_id=first.id, name=first.name)
    return Message(role, "".join(texts), thinking="".join(thoughts), tool_calls=tuple(calls), media=tuple(media))


def to_samples(request: VertexRewardRequest, raw: dict[str, Any]) -> list[Sample]:
    example = request.example
    prompt = tuple(_message(c, "user") for c in example.contents)
    answer = _message(request.response, "model")
    meta = request.metadata or VertexMetadata()
    system = _message(example.system_instruction, "system").text if example.system_instruction else None
    sample = Sample(
        response=answer.text,
        thinking=answer.thinking,
        prompt=prompt,
        system=system,
        references=dict(example.references or {}),
        metadata=Metadata(
            platform=PLATFORM,
            step=meta.step,
            job_id=None if meta.tuning_job_id is None else str(meta.tuning_job_id),
        ),
        trajectory=(*prompt, answer),
        raw=raw,
    )
    return [sample]


def log_fields(request: VertexRewardRequest) -> dict[str, Any]:
    """The call's identifiers, for the request's log lines."""
    meta = request.metadata or VertexMetadata()
    return {k: v for k, v in (("step", meta.step), ("tuning_job_id", meta.tuning_job_id)) if v is not None}


# ---- outcomes -> wire ------------------------------------------------------------

def aux_info(outcome: Outcome) -> dict[str, Any]:
    """Per-reward details for `user_requested_aux_info`, components nested by name."""
    info: dict[str, Any] = {"reward": outcome.reward}
    if outcome.score is not None:
        info["score"] = outcome.score.value
        if outcome.score.reason:
            info["reason"] = outcome.score.reason
        if outcome.score.metrics:
            info["metrics"] = dict(outcome.score.metrics)
    if outcome.parsed is not None:
        info["parsed"] = outcome.parsed
    if outcome.failure is not None:
        info["error"] = {"code": outcome.failure.code, "message": outcome.failure.message}
    if outcome.components:
        info["components"] = {
            c.name: {"weight": c.weight, **{k: v for k, v in aux_info(c.outcome).items() if k != "reward"}}
            for c in outcome.components
        }
    return info


def render(spec: AnySpec, outcome: Outcome) -> tuple[int, dict[str, Any]]:
    """HTTP status and body for one outcome."""
    if outcome.score is None:
        failure = outcome.failed_with
        # A request without its gold answer fails again on every retry: a client error, not a server one.
        status = 422 if failure.code in DATA_FAULTS else 500
        # Plain dicts on this hot path; the pydantic models above document the same shapes in OpenAPI.
        return status, {"message": f"reward {spec.name!r} failed: {failure.message}", "reward": spec.name,
                     "error_code": failure.code, "error": failure.message}
    info = aux_info(outcome)
    rule = getattr(spec, "rule", None)
    if rule:
        info["rule"] = rule
    # Sent as the reward gave it, never clipped here: the platform clips to REWARD_RANGE itself, and the server
    # logs and counts a score outside it (Contract.score_range). A reward's own score_range was checked before.
    return 200, {"reward": outcome.score.value, "user_requested_aux_info": to_json(info).decode()}


# ---- plain values -> bodies ------------------------------------------------------

def content(text: str, thinking: str | None = None, role: str = "model") -> dict[str, Any]:
    """A `Content`; reasoning goes in a `"thought": true` part before the answer, as thinking models send it."""
    parts: list[dict[str, Any]] = [{"text": thinking, "thought": True}] if thinking else []
    parts.append({"text": text})
    return {"role": role, "parts": parts}


def body(example: Mapping[str, Any], response: Response | str, *, step: int = 0,
         tuning_job_id: str | None = None) -> dict[str, Any]:
    """What Vertex posts to a Cloud Run reward: the dataset line as `example`, the sampled response, metadata."""
    if isinstance(response, str):
        response = Response(response)
    answer = content(response.text, response.thinking)
    if response.tool_calls:
        answer["parts"] = [p for p in answer["parts"] if p.get("thought") or p.get("text")]
        answer["parts"] += [{"functionCall": {"name": c.name, "args": dict(c.arguments),
                                              **({"id": c.id} if c.id else {})}} for c in response.tool_calls]
    metadata: dict[str, Any] = {"step": step}
    if tuning_job_id is not None:
        metadata["tuning_job_id"] = tuning_job_id
    return {"example": dict(example), "response": answer, "metadata": metadata}


def example(prompt: Prompt) -> dict[str, Any]:
    """The dataset line of a prompt given as ChatML messages: contents, systemInstruction, references."""
    line: dict[str, Any] = {"contents": [
        {"role": "model" if m.get("role") == "assistant" else "user",
         "parts": [{"text": content_text(m.get("content"))}]}
        for m in prompt.messages if m.get("role") != "system"]}
    system = [content_text(m.get("content")) for m in prompt.messages if m.get("role") == "system"]
    if system:
        line["systemInstruction"] = {"parts": [{"text": "".join(system)}]}
    refs = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in prompt.references.items()}
    if prompt.ground_truth is not None:
        gold = prompt.ground_truth
        refs.setdefault("answer", gold if isinstance(gold, str) else json.dumps(gold, ensure_ascii=False))
    if refs:
        line["references"] = refs
    return line


def request(response: str, *, reference: Any = None, prompt: str = "", references: Mapping[str, str] | None = None,
            system: str | None = None, thinking: str | None = None, step: int = 1,
            tuning_job_id: str = "1") -> dict[str, Any]:
    """The body Vertex AI posts to a Cloud Run reward: `reference` becomes `references.answer`;
    `thinking` a `"thought": true` part before the answer."""
    refs = dict(references or {})
    if reference is not None:
        refs.setdefault("answer", str(reference))  # Vertex references are string to string
    line = example(Prompt.of(prompt, system=system, references=refs))
    return body(line, Response(response, thinking), step=step, tuning_job_id=tuning_job_id)


# ---- answers -> plain values -----------------------------------------------------

def _aux_reason(aux: Any) -> tuple[str | None, str | None]:
    """(reason, error code) from a `user_requested_aux_info` written by rewardkit (or free text from elsewhere)."""
    if not isinstance(aux, str) or not aux:
        return None, None
    try:
        info = json.loads(aux)
    except ValueError:
        return aux, None
    if not isinstance(info, dict):
        return aux, None
    error = info.get("error") if isinstance(info.get("error"), dict) else None
    reason = info.get("reason")
    if reason is None and isinstance(info.get("components"), dict):
        parts = [f"{name}: {c.get('reason') or (c.get('error') or {}).get('message') or c.get('score')}"
                 for name, c in info["components"].items() if isinstance(c, dict)]
        reason = "; ".join(parts) or None
    if reason is None and error:
        reason = error.get("message")
    if reason is None and "parsed" in info:
        reason = f"parsed {info['parsed']!r}"
    return reason, (error or {}).get("code")


def _user_messages(line: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    messages = []
    for item in line.get("contents") or []:
        if isinstance(item, dict):
            text = "".join(p["text"] for p in item.get("parts") or [] if isinstance(p, dict)
                           and isinstance(p.get("text"), str))
            messages.append({"role": "assistant" if item.get("role") == "model" else "user", "content": text})
    return tuple(messages)


# Training-data media (Vertex AI, "Tune Gemini on image data", docs.cloud.google.com/vertex-ai/generative-ai/docs/
# models/tune_gemini/image_tune: "Maximum images per example: 30", "Maximum image file size: 20MB", a fileUri "can be
# the URI for a file in a Cloud Storage bucket, or it can be a publicly available HTTP or HTTPS URL"; the MIME types
# of the image, audio, video and document understanding pages the tuning pages link).
MEDIA_SCHEMES = ("gs", "https", "http")
MEDIA_TYPES = frozenset({
    "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
    "audio/wav", "audio/mp3", "audio/mpeg", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac",
    "video/mp4", "video/mpeg", "video/mov", "video/avi", "video/x-flv", "video/mpg", "video/webm", "video/wmv",
    "video/3gpp", "application/pdf", "text/plain"})
MAX_IMAGES = 30
MAX_INLINE_BYTES = 20 * 1024 * 1024


def media_problems(line: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the documented dataset rules refuse in a line's fileData / inlineData parts."""
    found: list[tuple[str, str]] = []
    images = 0
    for i, content in enumerate(line.get("contents") or ()):
        for j, part in enumerate(content.get("parts") or () if isinstance(content, dict) else ()):
            where = f"contents[{i}].parts[{j}]"
            for key in ("fileData", "file_data", "inlineData", "inline_data"):
                value = part.get(key) if isinstance(part, dict) else None
                if not isinstance(value, dict):
                    continue
                mime = str(value.get("mimeType", value.get("mime_type", ""))).lower()
                images += mime.startswith("image/")
                if mime not in MEDIA_TYPES:
                    found.append((f"{where}.{key}.mimeType", f"{mime or '(none)'} is not a MIME type Gemini tuning "
                                  f"accepts ({', '.join(sorted(MEDIA_TYPES))})"))
                uri = str(value.get("fileUri", value.get("file_uri", "")))
                if key.startswith("file") and uri.split(":", 1)[0].lower() not in MEDIA_SCHEMES:
                    found.append((f"{where}.{key}.fileUri", f"{uri[:60]!r} is not a gs:// or http(s):// URI"))
                data = str(value.get("data", ""))
                if key.startswith("inline") and len(data) * 3 // 4 > MAX_INLINE_BYTES:
                    found.append((f"{where}.{key}.data", "over the 20 MB a media file may be"))
    if images > MAX_IMAGES:
        found.append(("contents", f"{images} images, over the {MAX_IMAGES} an example may have"))
    return found


class VertexContract(Contract):
    """Vertex AI / Gemini reinforcement tuning: one response per call, the reward in [-1, 1], failures as HTTP 500."""

    name = PLATFORM
    title = "Vertex cloudRunRewardScorer"
    suffix = ""
    default_route = "/"
    refuse_grouped = ("reward {name!r} is grouped: it scores the responses of one prompt together, and Vertex "
                      "sends one response per call. Serve it to DashScope group_reward requests instead.")
    recognised_by = "needs 'example' and 'response'"
    dataset_key = "contents"
    dataset_schema = "vertex.schema.json"
    dataset_strict_json = True  # ProtoJSON parsers refuse duplicate keys and NaN/Infinity
    builders = {"vertex_request": request}
    score_range = REWARD_RANGE
    score_range_note = "the platform clips it to that range"

    _adapter = TypeAdapter(VertexRewardRequest)

    def parse(self, raw: Any) -> Parsed:
        request = self.validate(self._adapter, raw)
        return Parsed(to_samples(request, raw), request, log_fields=log_fields(request))

    def render(self, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        return render(spec, outcomes[0])

    def looks_like(self, raw: Any) -> bool:
        return isinstance(raw, dict) and "example" in raw and "response" in raw

    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        # Vertex calls the reward once per sampled response, with the dataset line as it is.
        line = prompt.line if prompt.line is not None else example(prompt)
        meta = {k: prompt.metadata[k] for k in ("step", "tuning_job_id") if k in prompt.metadata}
        return [body(line, response, **meta) for response in responses]

    def read_answer(self, status: int, body: Any) -> Answer:
        unscored = unscored_answer(status, body)
        if unscored is not None:
            return unscored
        reward = body.get("reward")
        if isinstance(reward, bool) or not isinstance(reward, (int, float)):
            return Answer((), BAD_ANSWER, f"the answer does not match the {self.title} contract: 'reward' is "
                          f"{reward!r}, expected a number")
        reason, code = _aux_reason(body.get("user_requested_aux_info"))
        return Answer((float(reward),), code, reason)

    def media_problems(self, line: Mapping[str, Any]) -> list[tuple[str, str]]:
        return media_problems(line)

    def read_line(self, line: Mapping[str, Any]) -> Prompt:
        refs = line.get("references")
        return Prompt(messages=_user_messages(line), references=refs if isinstance(refs, dict) else {}, line=line)

    def openapi(self) -> OpenAPIEntry:
        return OpenAPIEntry(
            tag="Vertex AI",
            models=(VertexRewardRequest,),
            body={"$ref": SCHEMA_REF.format(model="VertexRewardRequest")},
            responses={
                200: {"model": VertexRewardResponse, "description": "The reward"},
                500: {"model": VertexErrorResponse, "description": "The reward failed and has no fallback score"},
                **{code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 499, 503)},
            },
        )


CONTRACT = VertexContract()
