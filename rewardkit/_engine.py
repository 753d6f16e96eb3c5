"""Where and how a reward runs. The engine knows nothing of HTTP or platforms."""

from __future__ import annotations

import asyncio
from typing import Protocol, Sequence

from ._invoke import Outcome, arun_leaf, run_leaf
from ._registry import RewardSpec
from ._sample import Sample


class Engine(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]: ...


class InlineEngine:
    """Runs rewards in this process: async ones on the event loop, sync ones in a thread.

    With threaded=False sync rewards run in the calling thread (what
    `rewardkit.testing` uses, so signal-based timeouts in libraries work).
    """

    def __init__(self, *, threaded: bool = True) -> None:
        self.threaded = threaded

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def run(self, spec: RewardSpec, samples: Sequence[Sample]) -> list[Outcome]:
        if spec.is_async:
            return await arun_leaf(spec, samples)
        if self.threaded:
            return await asyncio.to_thread(run_leaf, spec, samples)
        return run_leaf(spec, samples)
