"""Whether a sample carries the gold answer a reward cannot do without.

A reward that declares `reference` (or `ground_truth`) without a default is
never called without one: the call is answered MISSING_REFERENCE with the
keys looked for and the keys the request has, since retrying cannot help.
"""

from __future__ import annotations

from typing import Any

from ._outcome import MISSING_REFERENCE, Failure
from ._registry import RewardSpec
from ._sample import Sample


def _absent(value: Any) -> bool:
    # A blank gold string is a dataset bug as much as a missing one: nothing can match it meaningfully.
    return value is None or (isinstance(value, str) and not value.strip())


def _looked_for(spec: RewardSpec, name: str) -> str:
    if name == "ground_truth":
        return "ground_truth"
    return f"ground_truth, then references {', '.join(repr(k) for k in spec.reference_keys)}"


def missing_gold(spec: RewardSpec, sample: Sample) -> Failure | None:
    """The failure to answer with when `sample` lacks a gold answer `spec` requires, else None."""
    for name in spec.required_gold:
        value = sample.ground_truth if name == "ground_truth" else sample.reference(spec.reference_keys)
        if not _absent(value):
            continue
        has = ", ".join(repr(k) for k in sample.references) or "none"
        hint = ("" if name == "ground_truth" else
                "; put the gold under one of those keys, or register the reward with reference_keys=[...] "
                "naming where your data keeps it")
        return Failure(MISSING_REFERENCE,
                       f"reward {spec.name!r}: no gold answer in the request, and its parameter {name!r} has no "
                       f"default: looked for {_looked_for(spec, name)}; "
                       f"the request's references have keys: {has}{hint}")
    return None
