"""Amazon Nova reinforcement fine-tuning (Bedrock and SageMaker AI): the reward Lambda's batch contract.

What the platform sends (the Lambda event, and the body of `POST /rewards/{name}/nova`) is a bare
JSON list, one item per sampled response: the training line with the model's answer appended to
`messages` as the last (assistant) turn, and an `id` added:

    [{"id": "123",
      "messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}],
      "reference_answer": {...} | "...",          # SageMaker training jobs: at the top level
      "metadata": {"reference_answer": ..., "my_key": ...}}]   # Bedrock, HyperPod: the line's other keys

and what it reads back, in the same order, one entry per item:

    [{"id": "123", "aggregate_reward_score": 0.85,
      "metrics_list": [{"name": "accuracy", "value": 0.9, "type": "Reward"},
                       {"name": "policy_compliance", "value": 0.8, "type": "Metric"}]}]

Sources (read 2026-12): Bedrock user guide "Setting up reward functions for Amazon Nova models"
(https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html, input and output structure);
SageMaker AI "Custom reward functions in your AWS environment"
(https://docs.aws.amazon.com/sagemaker/latest/dg/nova-hp-rft-reward-functions.html: the field tables,
`metrics_list` optional, 15-minute limit, `rollout_worker_replicas x 64` concurrent calls) and
"Implementing reward functions" (https://docs.aws.amazon.com/sagemaker/latest/dg/nova-implementing-reward-functions.html:
`reference_answer` at the top level) and "RFT evaluation"
(https://docs.aws.amazon.com/sagemaker/latest/dg/nova-hp-evaluate-rft.html: role `nova_assistant`, text-part
content, `type` "Reward" used in training and "Metric" for reporting); the reward verifier of aws/nova-forge-sdk
(src/amzn_nova_forge/util/reward_verifier.py: invokes the Lambda with the bare list as payload,
requires `id` and a numeric `aggregate_reward_score` per answer, `type` in {"Metric", "Reward"}).

How outcomes are rendered:
- `aggregate_reward_score` is the reward's score, not clipped (the docs leave the range to the task).
- `metrics_list`: one "Reward" entry, the served reward with the aggregate's value; everything else is
  a "Metric": a composite's components (by name), every `Score.metrics` value (`<reward>.<metric>`),
  and `<reward>.error.<CODE>` = 1 for a fallback score. The SageMaker RFT evaluation guide says type
  "Reward" is "used in training" and "Metric" is "for reporting"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/nova-hp-evaluate-rft.html), and AWS's own sample
  Lambda marks only its overall score "Reward" (aws-samples/amazon-nova-samples
  customization/Nova_2.0/SFT_RFT/lambda_reward_function.py): so no component can count twice.
- A failed item: the answer format has no failure field, and no document says what a job does with a
  missing entry or a non-number, so rewardkit never invents a score. When any item has no score (the
  reward raised, timed out, crashed, returned NaN, and declared no `fallback`), the whole call fails:
  HTTP 500 (422 when every failure is a missing gold answer, which retrying cannot fix) with
  `failed` naming each item by id, index and error code; the Lambda handler raises with the same
  message, which the platform receives as the invocation's error. Declare `fallback=` on a reward
  to have a failed item scored (and counted in its `error.<CODE>` Metric) instead.
- Grouped rewards are refused: items of one batch are not promised to be the responses of one prompt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from .._errors import BAD_ANSWER
from .._outcome import DATA_FAULTS, Outcome
from .._registry import AnySpec
from .._sample import Metadata, Sample
from ._chat import ChatMessage, assistant_message, message
from .base import SCHEMA_REF, Answer, Contract, ContractError, ErrorResponse, OpenAPIEntry, Parsed, Prompt, Response

# The roles of the sampled turn: the SageMaker RFT evaluation guide's request has "nova_assistant" (with text
# parts as content), and the LLM-judge example Lambda of the SageMaker guide accepts both.
ASSISTANT_ROLES = ("assistant", "nova_assistant")
# Keys of an item that are the contract's own; any other key of the training line is the reward's.
_ITEM_KEYS = ("id", "messages", "reference_answer", "metadata", "tools")
_SHOWN_FAILURES = 5


class NovaItem(BaseModel):
    """One sampled response: its training line, the answer appended to `messages`, and an `id`."""

    model_config = ConfigDict(extra="allow")  # the line's own keys, and whatever the platform adds

    id: str = Field(description="Echoed back in the answer")
    messages: list[ChatMessage] = Field(min_length=1, description="The prompt, then the sampled assistant turn")
    reference_answer: Any = None
    metadata: Optional[dict[str, Any]] = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        # The docs say string; a numeric id is still an id (the answer echoes it as it came).
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class NovaMetric(BaseModel):
    name: str
    value: float
    type: Literal["Reward", "Metric"]


class NovaResult(BaseModel):
    """One answer entry; `metrics_list` is optional for the platform."""

    id: str
    aggregate_reward_score: float
    metrics_list: list[NovaMetric] = Field(default_factory=list)


class NovaFailedItem(BaseModel):
    id: str
    index: int
    error_code: str
    error: str


class NovaError(BaseModel):
    """The body of a refused or failed call (HTTP 4xx/5xx); the Lambda handler raises with `message`."""

    message: str
    error_code: str
    failed: list[NovaFailedItem] = Field(default_factory=list)


_REQUEST = TypeAdapter(list[NovaItem])


# ---- wire -> samples -------------------------------------------------------------

def gold(line: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """`(ground_truth, references)` of an item or a training line.

    `reference_answer` is read at the top level (SageMaker) or in `metadata` (Bedrock). A text (or
    number, list) reference answer is the ground truth; an object's keys become references (so the
    docs' `{"solution": "x = 4", ...}` is found by the default reference keys), the whole object kept
    under `references["reference_answer"]`. The line's other keys are references too."""
    metadata = dict(line["metadata"]) if isinstance(line.get("metadata"), Mapping) else {}
    extra = {k: v for k, v in line.items() if k not in _ITEM_KEYS}
    answer = line["reference_answer"] if line.get("reference_answer") is not None else metadata.get("reference_answer")
    references = {**extra, **{k: v for k, v in metadata.items() if k != "reference_answer"}}
    if isinstance(answer, Mapping):
        return None, {**references, **answer, "reference_answer": dict(answer)}
    return answer, references


def _sample(item: NovaItem, raw: Mapping[str, Any]) -> Sample:
    trajectory = tuple(message(m, "assistant" if m.role in ASSISTANT_ROLES else None) for m in item.messages)
    answer, prompt = trajectory[-1], trajectory[:-1]
    truth, references = gold(raw)
    return Sample(
        response=answer.text,
        thinking=answer.thinking,
        prompt=prompt,
        system=next((m.text for m in prompt if m.role == "system"), None),
        references=references,
        ground_truth=truth,
        metadata=Metadata(platform=NovaContract.name, sample_id=item.id),
        trajectory=trajectory,
        raw=raw,
    )


# ---- outcomes -> wire ------------------------------------------------------------

def metrics_list(outcome: Outcome, kind: str = "Reward") -> list[dict[str, Any]]:
    """The reward's score as a `kind` entry; its metrics, failures and components (recursively) as "Metric"."""
    entries: list[dict[str, Any]] = []
    if outcome.score is not None:
        entries.append({"name": outcome.reward, "value": outcome.score.value, "type": kind})
        entries += [{"name": f"{outcome.reward}.{k}", "value": v, "type": "Metric"}
                    for k, v in outcome.score.metrics.items()]
    if outcome.failure is not None:
        entries.append({"name": f"{outcome.reward}.error.{outcome.failure.code}", "value": 1.0, "type": "Metric"})
    for component in outcome.components:
        entries += metrics_list(component.outcome, "Metric")
    return entries


def _failures(parsed: Parsed, outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [{"id": sample.metadata.sample_id or "", "index": index, "error_code": outcome.failure.code,
             "error": outcome.failure.message}
            for index, (sample, outcome) in enumerate(zip(parsed.samples, outcomes, strict=True))
            if outcome.score is None and outcome.failure is not None]


def failure_message(reward: str, failed: Sequence[Mapping[str, Any]], total: int) -> str:
    shown = "; ".join(f"id {f['id']!r} (item {f['index']}): {f['error_code']}: {f['error']}"
                      for f in failed[:_SHOWN_FAILURES])
    more = f"; and {len(failed) - _SHOWN_FAILURES} more" if len(failed) > _SHOWN_FAILURES else ""
    return (f"reward {reward!r} failed on {len(failed)} of {total} items, so no answer is sent for the batch "
            f"(the Nova answer has no way to mark one item failed): {shown}{more}")


class NovaContract(Contract):
    name = "nova"
    title = "Nova RFT reward Lambda"  # "a Nova ... body", in messages
    suffix = "/nova"
    default_route = "/nova"
    refuse_grouped = ("reward {name!r} is grouped: it scores the responses of one prompt together, and a Nova "
                      "RFT batch is not promised to hold one prompt's responses; serve a per-response reward")
    recognised_by = "is a JSON list of items with 'id' and 'messages'"
    # A Nova line has DashScope's 'messages' too: it is told apart by its 'reference_answer'.
    dataset_key = "reference_answer"
    dataset_schema = "nova.schema.json"
    reasons_in_answers = False  # scores and metrics only

    # ---- serving --------------------------------------------------------------

    def parse(self, raw: Any) -> Parsed:
        if isinstance(raw, Mapping) and "requestContext" in raw and "body" in raw:
            raise ContractError("this is an API Gateway / function URL event; the Nova reward Lambda is invoked "
                                "directly with the batch: a JSON list of {id, messages, reference_answer | metadata}")
        if not isinstance(raw, list):
            got = "a JSON object" if isinstance(raw, Mapping) else f"JSON {type(raw).__name__}"
            raise ContractError(f"request body does not match the {self.title} contract: body: expected the batch, "
                                f"a JSON list of {{id, messages, reference_answer | metadata}} items; got {got}",
                                [{"loc": [], "msg": f"expected a list, got {got}", "type": "list_type"}])
        items: list[NovaItem] = self.validate(_REQUEST, raw)
        for index, item in enumerate(items):
            role = item.messages[-1].role
            if role not in ASSISTANT_ROLES:
                raise ContractError(
                    f"request body does not match the {self.title} contract: [{index}].messages: the last message "
                    f"must be the sampled assistant turn, got role {role!r}",
                    [{"loc": [index, "messages", len(item.messages) - 1, "role"],
                      "msg": f"expected 'assistant', got {role!r}", "type": "value_error"}])
        samples = [_sample(item, row) for item, row in zip(items, raw, strict=True)]
        return Parsed(samples, items, log_fields={"batch_size": len(items)})

    def render(self, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
        failed = _failures(parsed, outcomes)
        if failed:
            status = 422 if all(f["error_code"] in DATA_FAULTS for f in failed) else 500
            return status, {"message": failure_message(spec.name, failed, len(outcomes)),
                            "error_code": failed[0]["error_code"], "failed": failed}
        # Each id goes back as it came (the docs' ids are strings; a number is answered as that number).
        return 200, [{"id": sample.raw["id"] if sample.raw else sample.metadata.sample_id,
                      "aggregate_reward_score": outcome.score.value, "metrics_list": metrics_list(outcome)}
                     for sample, outcome in zip(parsed.samples, outcomes, strict=True) if outcome.score is not None]

    def refusal(self, status: int, code: str, message: str) -> Any:
        return {"message": message, "error_code": code, "failed": []}

    def looks_like(self, raw: Any) -> bool:
        return (isinstance(raw, list) and bool(raw) and isinstance(raw[0], Mapping)
                and "messages" in raw[0] and ("id" in raw[0] or "reference_answer" in raw[0]))

    # ---- harness --------------------------------------------------------------

    def requests(self, prompt: Prompt, responses: Sequence[Response]) -> list[Any]:
        """One batch with an item per response, in the Bedrock shape (the line's keys under `metadata`)."""
        line = dict(prompt.line) if prompt.line is not None else self._line(prompt)
        head = [dict(m) for m in line.get("messages", prompt.messages)]
        # The platform forwards a line's own keys (not its messages, id, tools) in `metadata`.
        metadata = {**(line.get("metadata") or {}), **{k: v for k, v in line.items() if k not in _ITEM_KEYS}}
        if line.get("reference_answer") is not None:
            metadata["reference_answer"] = line["reference_answer"]
        items = []
        for index, response in enumerate(responses):
            turn = assistant_message(response)
            item: dict[str, Any] = {"id": f"{line.get('id', 'sample')}-{index}", "messages": [*head, turn]}
            if metadata:
                item["metadata"] = metadata
            items.append(item)
        return [items]

    @staticmethod
    def _line(prompt: Prompt) -> dict[str, Any]:
        """The training line of a prompt: the gold as `reference_answer` (the references, when there is no
        ground truth), other references as the line's own keys."""
        line: dict[str, Any] = {"messages": [dict(m) for m in prompt.messages]}
        if prompt.ground_truth is not None:
            line.update({k: v for k, v in prompt.references.items() if k not in _ITEM_KEYS})
            line["reference_answer"] = prompt.ground_truth
        elif prompt.references:
            line["reference_answer"] = dict(prompt.references)
        return line

    def read_answer(self, status: int, body: Any) -> Answer:
        if status != 200 or not isinstance(body, list):
            if not isinstance(body, Mapping):
                return Answer((), f"HTTP_{status}", None)
            return Answer((), body.get("error_code") or f"HTTP_{status}", body.get("message"))
        try:
            scores = tuple(float(entry["aggregate_reward_score"]) for entry in body)
            metrics = [m for entry in body for m in entry.get("metrics_list") or ()]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return Answer((), BAD_ANSWER, f"the answer does not match the {self.title} contract "
                          f"({type(exc).__name__}: {exc}): {json.dumps(body)[:300]}")
        codes = [str(m["name"]).rsplit(".error.", 1)[1] for m in metrics
                 if isinstance(m, Mapping) and ".error." in str(m.get("name"))]
        return Answer(scores, codes[0] if codes else None, None)

    def read_line(self, line: Mapping[str, Any]) -> Prompt:
        truth, references = gold(line)
        messages = tuple(dict(m) for m in line.get("messages") or () if isinstance(m, Mapping))
        return Prompt(messages=messages, references=references, ground_truth=truth, line=dict(line))

    def openapi(self) -> OpenAPIEntry:
        return OpenAPIEntry(
            tag="Amazon Nova RFT",
            models=(NovaItem,),
            body={"type": "array", "items": {"$ref": SCHEMA_REF.format(model="NovaItem")}},
            responses={
                200: {"model": list[NovaResult], "description": "One entry per item, in the order received"},
                500: {"model": NovaError, "description": "The reward failed on some items and declares no "
                      "fallback: `failed` names them, and no item is answered"},
                422: {"model": Union[ErrorResponse, NovaError], "description": "The body is not a Nova batch "
                      "(ErrorResponse), or items lack the gold answer the reward requires (NovaError)"},
                **{code: {"model": ErrorResponse} for code in (400, 404, 413, 499, 503)},
            },
        )


CONTRACT = NovaContract()
