"""The client half of the Nova batch contract: what the remote trainer adapters post to a served rewardkit's
`POST /rewards/{name}/nova` and how they read its answer (`rewardkit.clients._batch` sends it).

The body is a JSON list of `{"id", "messages", "reference_answer", "metadata"}`; the answer, in the order
received, a list of `{"id", "aggregate_reward_score", "metrics_list": [{"name", "value", "type"}]}`. A
batch in which the reward failed on some items (with no fallback) is answered 500 (422 when only gold
answers are missing) with `failed: [{id, index, error_code, error}]`, and none of it is scored.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from .._errors import REMOTE_FAILED
from .._outcome import ComponentOutcome, Failure, Outcome
from .._score import Score


class NovaWire:
    """The Nova batch route as the remote adapters speak it (`rewardkit.clients._batch.Wire`)."""

    route = "/rewards/{name}/nova"

    @staticmethod
    def item(index: int, messages: Sequence[Mapping[str, Any]], reference_answer: Any,
             metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One item of the route's body. The route reads a text `reference_answer` as the ground truth and the
        keys of `metadata` as references; `messages` must end with the answer's assistant turn."""
        item: dict[str, Any] = {"id": str(index), "messages": list(messages)}
        if reference_answer is not None:
            item["reference_answer"] = reference_answer
        if metadata:
            item["metadata"] = dict(metadata)
        return item

    @staticmethod
    def read(reward: str, answers: Any, size: int) -> list[Outcome] | None:
        """The outcomes of a 200 answer, or None when it is not one entry per item."""
        if not isinstance(answers, list) or len(answers) != size:
            return None
        return [_outcome(reward, answer) for answer in answers]

    @staticmethod
    def failed(body: Any, size: int) -> dict[int, Failure] | None:
        """The items a failed batch names, by position; None if it names none."""
        return _failed_items(body, size)


def _outcome(reward: str, answer: Any) -> Outcome:
    """One answered item as the Outcome the in-process engine would have given, read back from the route's
    `metrics_list` (rewardkit/contracts/nova.py `metrics_list`): the reward's own entry (its score), its
    metrics `<reward>.<metric>`, a fallback's `<reward>.error.<CODE>`, and each component's score under its
    bare name with its metrics `<component>.<metric>`."""
    if not isinstance(answer, Mapping):
        return Outcome(reward, failure=Failure(REMOTE_FAILED, f"the server answered {answer!r:.200} for an item"))
    value = answer.get("aggregate_reward_score")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        message = f"the server gave no score for item {answer.get('id')!r}"
        return Outcome(reward, failure=Failure(REMOTE_FAILED, message))
    parts: dict[str, float] = {}  # component -> its score
    metrics: dict[str, dict[str, float]] = {}  # reward or component -> its metrics
    failure: Failure | None = None
    for entry in answer.get("metrics_list") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), (int, float)):
            continue
        name, number = str(entry.get("name", "")), float(entry["value"])
        owner, _, metric = name.partition(".")
        if name == reward:
            continue  # the aggregate score again
        if not metric:
            parts[name] = number
        elif metric.startswith("error."):
            if owner == reward:
                code = metric.removeprefix("error.")
                failure = Failure(code, "the server scored this item with the reward's fallback")
        else:
            metrics.setdefault(owner, {})[metric] = number
    components = tuple(ComponentOutcome(name, 1.0, Outcome(name, Score(score, None, metrics.get(name, {}))))
                       for name, score in parts.items())
    return Outcome(reward, Score(float(value), None, metrics.get(reward, {})), failure, components=components)


def _failed_items(body: Any, size: int) -> dict[int, Failure] | None:
    """The items a failed batch names (rewardkit's Nova route answers 500, or 422 when only gold answers are
    missing, with `failed: [{index, error_code, error}]` and scores none of the batch); None if it names none."""
    failed = body.get("failed") if isinstance(body, Mapping) else None
    if not isinstance(failed, list) or not failed:
        return None
    found = {entry["index"]: Failure(str(entry.get("error_code") or REMOTE_FAILED), str(entry.get("error", "")))
             for entry in failed if isinstance(entry, Mapping) and isinstance(entry.get("index"), int)
             and 0 <= entry["index"] < size}
    return found or None


WIRE = NovaWire()
