"""Nova RFT events and answers for the tests, as the platform sends and reads them.

The item shape is the Bedrock guide's "Input structure"
(https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html); `verifier_errors` restates the
checks of the Nova Forge SDK's reward verifier (aws/nova-forge-sdk src/amzn_nova_forge/util/reward_verifier.py,
`_validate_output_format`), plus the order and finiteness the platform relies on.
"""

from __future__ import annotations

import math
from typing import Any


def item(id: str, response: str, gold: Any = "42", **extra: Any) -> dict[str, Any]:
    """One item of a batch: a question, the sampled answer appended as the last turn, the gold in metadata."""
    return {"id": id, "messages": [{"role": "user", "content": "What is 6 x 7?"},
                                   {"role": "assistant", "content": response}],
            "metadata": {"reference_answer": gold}, **extra}


def verifier_errors(answer: Any, event: list[dict[str, Any]]) -> list[str]:
    """What the Nova Forge SDK's reward verifier would object to in an answer (its checks, restated)."""
    if not isinstance(answer, list):
        return [f"expected a list, got {type(answer).__name__}"]
    errors = []
    if [entry.get("id") for entry in answer] != [sent["id"] for sent in event]:
        errors.append("ids do not match the event's, in order")
    for i, entry in enumerate(answer):
        score = entry.get("aggregate_reward_score")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
            errors.append(f"{i}: aggregate_reward_score {score!r}")
        for metric in entry.get("metrics_list", []):
            if not isinstance(metric.get("name"), str) or not isinstance(metric.get("value"), (int, float)) \
                    or metric.get("type") not in ("Metric", "Reward") or not math.isfinite(metric["value"]):
                errors.append(f"{i}: metric {metric!r}")
    return errors
