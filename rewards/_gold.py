"""Finding the gold answer, shared by the answer-checking rewards."""

from __future__ import annotations

from typing import Any


class MissingReferenceError(ValueError):
    """The request carries no gold answer where the reward looks for one."""


def require_gold(reference: Any, reward_name: str) -> Any:
    # A missing gold answer is a dataset or configuration bug, not the model's fault: fail visibly.
    if reference is None or (isinstance(reference, str) and not reference.strip()):
        raise MissingReferenceError(
            f"{reward_name}: no gold answer in the request. Put it in Vertex `references.answer`, "
            "DashScope `ground_truth` or `rollout_extra.solution`"
        )
    return reference
