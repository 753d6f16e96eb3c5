"""Contract B: Alibaba Model Studio (DashScope) reinforcement training reward functions.

`RewardInput` -> `RewardOutput` (func_type "reward") and `GroupRewardInput`
-> `GroupRewardOutput` (func_type "group_reward"), field for field as the
`dashscope` SDK's own models. A failed reward is still HTTP 200, with
`status: "failed"`, `error` and `error_code`, as the SDK's server answers.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag

from ._invoke import Outcome
from ._registry import AnySpec
from ._sample import Message, Metadata, Sample, ToolCall

PLATFORM = "dashscope"


class _Open(BaseModel):
    # The platform adds keys over time; unknown ones must be tolerated.
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    """An OpenAI-style (ChatML) message of the trajectory."""

    role: str
    content: Union[str, list[dict[str, Any]], None] = None
    reasoning_content: Optional[str] = None
    tool_calls: Optional[list[dict[str, Any]]] = None
    tool_call_id: Optional[str] = None
    name: Optional[str] = None


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

def _text(content: Union[str, list[dict[str, Any]], None]) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content if part.get("type", "text") == "text")


def _tool_call(call: dict[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        # OpenAI sends arguments as JSON text; a producer that sends the object gets the same text back, not a repr.
        arguments = json.dumps(arguments, ensure_ascii=False)
    return ToolCall(str(function.get("name", "")), arguments, call.get("id"))


def _message(m: ChatMessage) -> Message:
    return Message(
        role=m.role,
        text=_text(m.content),
        thinking=m.reasoning_content or "",
        tool_calls=tuple(_tool_call(c) for c in m.tool_calls or ()),
        tool_call_id=m.tool_call_id,
        name=m.name,
    )


def _sample(output: AgentOutput, request: Union[RewardInput, GroupRewardInput], raw: dict[str, Any]) -> Sample:
    trajectory = tuple(_message(m) for m in output.messages or ())
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
    fields: dict[str, Any] = meta.model_dump(include={"job_id", "sample_id", "rollout_id", "attempt_id"}) if meta else {}
    if isinstance(request, GroupRewardInput):
        fields["group_size"] = len(request.agent_outputs)
    return fields


# ---- outcomes -> wire ------------------------------------------------------------

def reward_metrics(outcome: Outcome) -> dict[str, float]:
    """Metrics as `"<reward>.<metric>"`; a composite adds `"<component>.score"` per component."""
    metrics: dict[str, float] = {}
    if outcome.score is not None:
        metrics.update({f"{outcome.reward}.{k}": v for k, v in outcome.score.metrics.items()})
    if outcome.failure is not None:
        metrics[f"{outcome.reward}.error.{outcome.failure.code}"] = 1.0
    for component in outcome.components:
        if component.outcome.score is not None:
            metrics[f"{component.name}.score"] = component.outcome.score.value
        metrics.update(reward_metrics(component.outcome))
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


def _reward(outcome: Outcome) -> dict[str, Any]:
    # A failed output still needs a number: the SDK's Reward requires reward_score; status says it failed.
    value = 0.0 if outcome.score is None else outcome.score.value
    return {"reward_score": value, "reward_metrics": reward_metrics(outcome) or None}


def _failed(spec: AnySpec, outcomes: list[Outcome]) -> tuple[Optional[str], Optional[str]]:
    """(error, error_code) for outcomes that have no score; (None, None) when all scored."""
    failed = [(i, o.failure) for i, o in enumerate(outcomes) if o.score is None]
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
