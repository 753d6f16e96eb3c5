"""Contract B: Alibaba Model Studio (DashScope) reinforcement training reward functions.

`RewardInput` -> `RewardOutput` (func_type "reward") and `GroupRewardInput`
-> `GroupRewardOutput` (func_type "group_reward"), field for field as the
`dashscope` SDK's own models. A failed reward is still HTTP 200, with
`status: "failed"`, `error` and `error_code`, as the SDK's server answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter

from .._errors import BAD_ANSWER
from .._outcome import Outcome, flat_metrics
from .._registry import AnySpec
from .._sample import Metadata, Sample
from ._chat import ChatMessage, assistant_message, chat_media_problems, message
from .base import SCHEMA_REF, Answer, Contract, ErrorResponse, OpenAPIEntry, Parsed, Prompt, Response, unscored_answer

PLATFORM = "dashscope"
# Media URIs Model Studio reads: public http(s) URLs, Base64 data URIs, and the oss:// temporary URLs of its upload
# API (help.aliyun.com/en/model-studio/get-temporary-file-url: "upload a file and get an oss:// URL valid for 48
# hours"; only Model Studio resolves those: a reward service cannot fetch them, MEDIA_UNSUPPORTED).
MEDIA_SCHEMES = ("http", "https", "data", "oss")


class _Open(BaseModel):
    # The platform adds keys over time; unknown ones must be tolerated.
    model_config = ConfigDict(extra="allow")


class RequestMetadata(_Open):
    job_id: str
    sample_id: str
    rollout_id: str
    attempt_id: str


class AgentOutput(_Open):
    messages: Optional[list[ChatMessage]] = None
    rollout_extra: Optional[dict[str, Any]] = None
    rollout_metrics: Optional[dict[str, float]] = None
    reward_score: Optional[float] = None


class RewardInput(_Open):
    """func_type "reward": one agent output to score."""

    func_type: Literal["reward"] = "reward"
    ground_truth: Any = None
    request_metadata: Optional[RequestMetadata] = None
    agent_output: AgentOutput


class GroupRewardInput(_Open):
    """func_type "group_reward": the outputs sampled for one prompt, scored together."""

    func_type: Literal["group_reward"] = "group_reward"
    agent_outputs: list[AgentOutput]
    ground_truth: Any = None
    request_metadata: Optional[RequestMetadata] = None


def _func_type(body: Any) -> Any:
    # The SDK's models default func_type; infer it from the payload when it is missing.
    if isinstance(body, dict):
        if "func_type" in body:
            return body["func_type"]
        return "group_reward" if "agent_outputs" in body else "reward"
    return getattr(body, "func_type", None)


DashScopeRequest = Annotated[
    Union[Annotated[RewardInput, Tag("reward")], Annotated[GroupRewardInput, Tag("group_reward")]],
    Discriminator(_func_type),
]


class Reward(BaseModel):
    reward_score: float
    reward_metrics: Optional[dict[str, float]] = None


class RewardOutput(BaseModel):
    reward: Reward
    status: Literal["success", "failed"] = "success"
    error: Optional[str] = None
    error_code: Optional[str] = None


class GroupReward(BaseModel):
    rewards: list[Reward]


class GroupRewardOutput(BaseModel):
    reward: GroupReward
    status: Literal["success", "failed"] = "success"
    error: Optional[str] = None
    error_code: Optional[str] = None


# ---- wire -> samples -------------------------------------------------------------

def _sample(output: AgentOutput, request: Union[RewardInput, GroupRewardInput], raw: dict[str, Any]) -> Sample:
    trajectory = tuple(message(m) for m in output.messages or ())
    first_answer = next((i for i, m in enumerate(trajectory) if m.role == "assistant"), len(trajectory))
    prompt = trajectory[:first_answer]
    final = next((m for m in reversed(trajectory) if m.role == "assistant"), None)
    meta = request.request_metadata
    return Sample(
        response=final.text if final else "",
        thinking=final.thinking if final else "",
        prompt=prompt,
        system=next((m.text for m in prompt if m.role == "system"), None),
        references=dict(output.rollout_extra or {}),
        ground_truth=request.ground_truth,
        metadata=Metadata(
            platform=PLATFORM,
            job_id=meta.job_id if meta else None,
            sample_id=meta.sample_id if meta else None,
            rollout_id=meta.rollout_id if meta else None,
            attempt_id=meta.attempt_id if meta else None,
        ),
        trajectory=trajectory,
        raw=raw,
    )


def to_samples(request: Union[RewardInput, GroupRewardInput], raw: dict[str, Any]) -> list[Sample]:
    outputs = request.agent_outputs if isinstance(request, GroupRewardInput) else [request.agent_output]
    return [_sample(output, request, raw) for output in outputs]


def log_fields(request: Union[RewardInput, GroupRewardInput]) -> dict[str, Any]:
    """The request metadata ids, for the request's log lines."""
    meta = request.request_metadata
    wanted = {"job_id", "sample_id", "rollout_id", "attempt_id"}
    fields: dict[str, Any] = meta.model_dump(include=wanted) if meta else {}
    if isinstance(request, GroupRewardInput):
        fields["group_size"] = len(request.agent_outputs)
    return fields


# ---- outcomes -> wire ------------------------------------------------------------

def reward_metrics(outcome: Outcome) -> dict[str, float]:
    """Metrics as `"<reward>.<metric>"`, `"<reward>.error.<CODE>"` for a failure (a fallback score's too);
    a composite adds `"<component>.score"` per component."""
    return flat_metrics(outcome, errors=True)


def _reward(outcome: Outcome) -> dict[str, Any]:
    # A failed output still needs a number: the SDK's Reward requires reward_score; status says it failed.
    value = 0.0 if outcome.score is None else outcome.score.value
    return {"reward_score": value, "reward_metrics": reward_metrics(outcome) or None}


def _failed(spec: AnySpec, outcomes: list[Outcome]) -> tuple[Optional[str], Optional[str]]:
    """(error, error_code) for outcomes that have no score; (None, None) when all scored."""
    failed = [(i, o.failed_with) for i, o in enumerate(outcomes) if o.score is None]
    if not failed:
        return None, None
    if len(outcomes) == 1:
        return f"reward {spec.name!r} failed: {failed[0][1].message}", failed[0][1].code
    detail = "; ".join(f"output {i}: {f.message}" for i, f in failed)
    return f"reward {spec.name!r} failed on {len(failed)} of {len(outcomes)} outputs: {detail}", failed[0][1].code


def render(spec: AnySpec, outcomes: list[Outcome], group: bool) -> tuple[int, dict[str, Any]]:
    """HTTP status and body; always 200, failures are reported in `status`.

    Plain dicts on this hot path; RewardOutput / GroupRewardOutput above
    document the same shapes, and the tests validate answers against the
    dashscope SDK's own models.
    """
    error, code = _failed(spec, outcomes)
    status = "failed" if error else "success"
    if not group:
        return 200, {"reward": _reward(outcomes[0]), "status": status, "error": error, "error_code": code}
    body: dict[str, Any] = {"reward": {"rewards": [_reward(o) for o in outcomes]}, "status": status, "error": error}
    if code is not None:  # the SDK's GroupRewardOutput has no error_code field; send it only when there is one
        body["error_code"] = code
    return 200, body


# ---- plain values -> bodies ------------------------------------------------------

def body(prompt: Prompt, responses: Sequence[Response], *, group: bool | None = None) -> dict[str, Any]:
    """A `RewardInput` for one response, a `GroupRewardInput` for several (or when `group` is true)."""
    rollout_extra = dict(prompt.references) if prompt.references else None
    outputs = [{"messages": [dict(m) for m in prompt.messages] + [assistant_message(r)], "rollout_extra": rollout_extra}
               for r in responses]
    meta = prompt.metadata.get("request_metadata")
    head = {"ground_truth": prompt.ground_truth, "request_metadata": None if meta is None else dict(meta)}
    if group if group is not None else len(outputs) != 1:
        return {"func_type": "group_reward", **head, "agent_outputs": outputs}
    return {"func_type": "reward", **head, "agent_output": outputs[0]}


def _prompt(reference: Any, prompt: str, rollout_extra: Mapping[str, Any] | None, system: str | None,
            messages: Sequence[Mapping[str, Any]] | None, request_metadata: Mapping[str, str] | None) -> Prompt:
    return Prompt.of(prompt, system=system, messages=messages, references=dict(rollout_extra or {}),
                     ground_truth=reference, metadata={"request_metadata": request_metadata})


def request(response: str, *, reference: Any = None, prompt: str = "", rollout_extra: Mapping[str, Any] | None = None,
            system: str | None = None, thinking: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
            request_metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A DashScope `RewardInput` (func_type "reward"): `reference` becomes `ground_truth`; `messages`
    (ChatML dicts, e.g. an agent's tool calls) replace the default prompt turns before the answer."""
    values = _prompt(reference, prompt, rollout_extra, system, messages, request_metadata)
    return body(values, [Response(response, thinking)], group=False)


def group_request(responses: Sequence[str], *, reference: Any = None, prompt: str = "",
                  rollout_extra: Mapping[str, Any] | None = None, system: str | None = None,
                  thinkings: Sequence[str | None] | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
                  request_metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A DashScope `GroupRewardInput` (func_type "group_reward"): one agent output per response, in order."""
    thinkings = list(thinkings) if thinkings is not None else [None] * len(responses)
    if len(thinkings) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(thinkings)} thinkings")
    values = _prompt(reference, prompt, rollout_extra, system, messages, request_metadata)
    return body(values, [Response(r, t) for r, t in zip(responses, thinkings, strict=True)], group=True)


# ---- answers -> plain values -----------------------------------------------------

def _metric_codes(metrics: Any) -> list[str]:
    """Error codes rewardkit puts in reward_metrics as `<reward>.error.<CODE>`."""
    if not isinstance(metrics, dict):
        return []
    return [key.rsplit(".error.", 1)[1] for key in metrics if ".error." in key]


def _metrics_text(entries: list[Any]) -> str | None:
    shown = []
    for index, entry in enumerate(entries):
        metrics = (entry.get("reward_metrics") if isinstance(entry, dict) else None) or {}
        if metrics:
            text = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in metrics.items())
            shown.append(text if len(entries) == 1 else f"[{index}] {text}")
    return "; ".join(shown) or None


class DashScopeContract(Contract):
    """Model Studio / DashScope: RewardInput and GroupRewardInput; always HTTP 200, failures in `status`."""

    name = PLATFORM
    title = "DashScope RewardInput/GroupRewardInput"
    suffix = "/api/v1"
    default_route = "/api/v1"
    refuse_grouped = ("reward {name!r} is grouped: it needs a group_reward request (func_type 'group_reward' "
                      "with agent_outputs), got func_type 'reward'")
    recognised_by = "needs 'agent_output' or 'agent_outputs'"
    dataset_key = "messages"
    dataset_schema = "dashscope.schema.json"
    dataset_strict_json = False  # the SDK reads lines with plain json.loads, which accepts duplicate keys and NaN
    reasons_in_answers = False  # scores and metrics only
    builders = {"dashscope_request": request, "group_request": group_request}

    _adapter: TypeAdapter[Any] = TypeAdapter(DashScopeRequest)

    def parse(self, raw: Any) -> Parsed:
        request = self.validate(self._adapter, raw, union_tags=("reward", "group_reward"),
                                tag_field="func_type")
        return Parsed(to_samples(request, raw), request, group=isinstance(request, GroupRewardInput),
                      log_fields=log_fields(request))

    def render(self, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        return render(spec, outcomes, parsed.group)

    def refusal(self, status: int, code: str, message: str) -> Any:
        # The SDK reads `status` and `error_code`; the platform's own 5xx bodies carry `message`.
        return {"message": message, "status": "failed", "error": message, "error_code": code}

    def looks_like(self, raw: Any) -> bool:
        return isinstance(raw, dict) and (raw.get("func_type") in ("reward", "group_reward")
                                          or "agent_output" in raw or "agent_outputs" in raw)

    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        # DashScope sends the responses of one prompt as one group_reward call.
        return [body(prompt, responses)]

    def read_answer(self, status: int, body: Any) -> Answer:
        unscored = unscored_answer(status, body)
        if unscored is not None:
            return unscored
        reward = body.get("reward")
        # Any: a hostile answer may hold anything here; the try below turns a wrong shape into BAD_ANSWER.
        entries: Any = reward.get("rewards") if isinstance(reward, dict) and "rewards" in reward else [reward]
        try:
            scores = tuple(float(entry["reward_score"]) for entry in entries)
        except (KeyError, TypeError, ValueError) as exc:
            return Answer((), BAD_ANSWER, f"the answer does not match the {self.title} contract "
                          f"({type(exc).__name__}: {exc}): {json.dumps(body)[:300]}")
        codes = [c for entry in entries for c in _metric_codes(entry.get("reward_metrics"))]
        if body.get("status") == "failed":
            # The platform treats the whole answer as failed: its placeholder scores are not rewards.
            return Answer((), body.get("error_code") or (codes[0] if codes else "FAILED"), body.get("error"))
        return Answer(scores, codes[0] if codes else None, body.get("error") or _metrics_text(entries))

    def media_problems(self, line: Mapping[str, Any]) -> list[tuple[str, str]]:
        return chat_media_problems(line.get("messages"), MEDIA_SCHEMES)

    def read_line(self, line: Mapping[str, Any]) -> Prompt:
        raw_messages = line.get("messages")
        messages = raw_messages if isinstance(raw_messages, list) else []
        extra = line.get("rollout_extra")
        return Prompt(messages=tuple(m for m in messages if isinstance(m, dict)),
                      references=extra if isinstance(extra, dict) else {},
                      ground_truth=line.get("ground_truth"), line=line)

    def openapi(self) -> OpenAPIEntry:
        models = ("RewardInput", "GroupRewardInput")
        return OpenAPIEntry(
            tag="DashScope",
            models=(RewardInput, GroupRewardInput),
            body={"oneOf": [{"$ref": SCHEMA_REF.format(model=m)} for m in models],
                  "discriminator": {"propertyName": "func_type",
                                    "mapping": dict(zip(("reward", "group_reward"),
                                                        (SCHEMA_REF.format(model=m) for m in models), strict=True))}},
            responses={
                200: {"model": Union[RewardOutput, GroupRewardOutput],
                      "description": "RewardOutput or GroupRewardOutput; a failed reward has status 'failed'"},
                **{code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 499, 500, 503)},
            },
        )


CONTRACT = DashScopeContract()
