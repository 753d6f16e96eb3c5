"""Contract A: the Vertex AI / Gemini reinforcement tuning `cloudRunRewardScorer` call.

Request: {"example": ReinforcementTuningExample, "response": Content,
"metadata": {"step", "tuning_job_id"}} in ProtoJSON (camelCase or
snake_case, int64 as string or number). Answer: {"reward": float in [-1, 1],
"user_requested_aux_info": str}.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import to_json

from ._invoke import MISSING_REFERENCE, Outcome
from ._registry import AnySpec
from ._sample import Message, Metadata, Sample, ToolCall
from ._score import clip

PLATFORM = "vertex"
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


class Part(_ProtoJSON):
    """A part of a Content; kinds a reward does not read (inlineData, fileData, ...) are kept as extra fields."""

    text: Optional[str] = None
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

def _message(content: Content, default_role: str) -> Message:
    texts, thoughts, calls, responses = [], [], [], []
    for part in content.parts:
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
    return Message(role, "".join(texts), thinking="".join(thoughts), tool_calls=tuple(calls))


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
        failure = outcome.failure
        # A request without its gold answer fails again on every retry: a client error, not a server one.
        status = 422 if failure.code == MISSING_REFERENCE else 500
        # Plain dicts on this hot path; the pydantic models above document the same shapes in OpenAPI.
        return status, {"message": f"reward {spec.name!r} failed: {failure.message}", "reward": spec.name,
                     "error_code": failure.code, "error": failure.message}
    info = aux_info(outcome)
    if getattr(spec, "rule", None):
        info["rule"] = spec.rule
    value = clip(outcome.score.value, *REWARD_RANGE)
    if value != outcome.score.value:
        info["clipped_from"] = outcome.score.value
    return 200, {"reward": value, "user_requested_aux_info": to_json(info).decode()}
