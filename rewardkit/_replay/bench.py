"""`rewardkit replay --bench`: what one reward call costs on the user's own requests.

The requests are sent through the same service `replay` uses (in-process, or `--url`): first a warm-up
round (each worker's first call pays for imports and caches a step never sees again), then the requests
again and again, `concurrency` at a time, until at least `calls` have been answered. The figures are the
ones capacity sizing needs (rewardkit._project.capacity): calls a second per worker, the p99 of one
call's latency, and how many calls were in flight per worker while they were measured.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any, Sequence

from .fixtures import FixtureCase
from .replay import ReplayResult, send_all, service_client
from .report import percentile

DEFAULT_BENCH_CALLS = 200


@dataclass(frozen=True)
class BenchResult:
    """The measured round: how many calls, how long, on how many workers, and each call's latency."""

    calls: int
    seconds: float
    workers: int
    concurrency: int
    failed: int
    latencies: tuple[float, ...]  # seconds, sorted

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds

    @property
    def calls_per_second_per_worker(self) -> float:
        return self.calls_per_second / self.workers

    def percentile(self, share: float) -> float:
        """Nearest-rank percentile of the latencies (share 0.99: p99)."""
        return percentile(self.latencies, share) or 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "failed": self.failed, "seconds": round(self.seconds, 4), "workers": self.workers,
            "concurrency": self.concurrency, "in_flight_per_worker": round(self.concurrency / self.workers, 4),
            "calls_per_second": round(self.calls_per_second, 3),
            "calls_per_second_per_worker": round(self.calls_per_second_per_worker, 3),
            "p50_seconds": round(self.percentile(0.5), 6), "p99_seconds": round(self.percentile(0.99), 6),
            "max_seconds": round(self.latencies[-1], 6),
        }

    def text(self) -> str:
        data = self.to_json()
        return (f"bench: {self.calls} calls in {self.seconds:.2f} s, {self.concurrency} in flight on "
                f"{self.workers} worker(s): {data['calls_per_second']:g} calls/s, "
                f"{data['calls_per_second_per_worker']:g} calls/s per worker; latency p50 "
                f"{data['p50_seconds'] * 1000:.1f} ms, p99 {data['p99_seconds'] * 1000:.1f} ms, "
                f"max {data['max_seconds'] * 1000:.1f} ms" + (f"; {self.failed} did not pass" if self.failed else ""))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def _enough(cases: Sequence[FixtureCase], calls: int) -> list[FixtureCase]:
    """The cases over and over until there are `calls` of them (all of them at least once)."""
    return list(itertools.islice(itertools.cycle(cases), max(calls, len(cases))))


async def bench(cases: Sequence[FixtureCase], *, workers: int, calls: int = DEFAULT_BENCH_CALLS,
                target: str = "rewards", reward: str | None = None, url: str | None = None, token: str | None = None,
                concurrency: int, timeout: float, settings: Any = None) -> tuple[BenchResult, list[ReplayResult]]:
    """Warm up, then time at least `calls` calls at `concurrency`; the measured round's results, judged."""
    async with service_client(target=target, reward=reward, url=url, token=token, concurrency=concurrency,
                              timeout=timeout, settings=settings) as client:
        warm = list(itertools.islice(itertools.cycle(cases), max(concurrency, workers)))
        await send_all(client, warm, reward=reward, concurrency=concurrency)
        started = time.perf_counter()
        results = await send_all(client, _enough(cases, calls), reward=reward, concurrency=concurrency)
        seconds = time.perf_counter() - started
    latencies = tuple(sorted(r.latency for r in results))
    failed = sum(1 for r in results if not r.passed)
    return BenchResult(len(results), seconds, max(1, workers), concurrency, failed, latencies), results
