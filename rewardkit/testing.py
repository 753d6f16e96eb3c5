"""Score a reward locally, through the same pipeline the server runs, with no HTTP.

    from rewardkit.testing import score
    assert score(math_accuracy, "so \\\\boxed{72}", reference="72").value == 1.0
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

from ._engine import InlineEngine
from ._invoke import Outcome
from ._pipeline import evaluate
from ._registry import spec_of
from ._sample import Sample, sample


def _run(reward: Any, samples: Sequence[Sample]) -> list[Outcome]:
    # threaded=False: the reward runs in this (main) thread, so signal-based timeouts work as in a worker.
    return asyncio.run(evaluate(spec_of(reward), samples, InlineEngine(threaded=False)))


def score(reward: Any, response: str = "", reference: Any = None, **fields: Any) -> Outcome:
    """Score one response; `fields` are those of `rewardkit.sample` (prompt, thinking, references, ...)."""
    if spec_of(reward).grouped:
        raise TypeError(f"{spec_of(reward).name!r} is a grouped reward: use score_group(reward, [responses...])")
    return _run(reward, [sample(response, reference, **fields)])[0]


def score_group(reward: Any, responses: Sequence[str], reference: Any = None, **fields: Any) -> list[Outcome]:
    """Score the responses of one prompt together (any kind of reward)."""
    return _run(reward, [sample(r, reference, **fields) for r in responses])


def score_samples(reward: Any, samples: Sequence[Sample]) -> list[Outcome]:
    """Score prepared samples (for instance built by a contract adapter)."""
    return _run(reward, samples)
