"""Prometheus metrics for `GET /metrics`.

Each app has its own CollectorRegistry, so several apps in one process
(tests, embedding) never collide. Only the server process records: workers
hand their outcomes back to it, so the counts are exact with any number of
worker processes and no multiprocess mode is needed.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .._outcome import TIMEOUT, Outcome

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                   300.0)
# Rewards usually live in [-1, 1] (Vertex) or [0, 1] (DashScope); the outer buckets catch the rest.
VALUE_BUCKETS = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class _JudgeMetrics:
    """The judge clients' process-wide metrics (rewardkit/clients/_telemetry.py), once a reward has loaded them."""

    def collect(self) -> Iterator[Any]:
        telemetry = sys.modules.get("rewardkit.clients._telemetry")
        if telemetry is not None:
            yield from telemetry.REGISTRY.collect()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        r.register(_JudgeMetrics())
        self.requests = Counter("rewardkit_requests", "Requests, by reward, contract and outcome",
                                ["reward", "contract", "outcome"], registry=r)
        self.latency = Histogram("rewardkit_request_duration_seconds", "Request latency, body read to answer",
                                 ["reward", "contract"], buckets=LATENCY_BUCKETS, registry=r)
        self.values = Histogram("rewardkit_reward_value", "Scores returned, per reward (composites and components)",
                                ["reward"], buckets=VALUE_BUCKETS, registry=r)
        self.errors = Counter("rewardkit_reward_errors", "Reward calls that failed, by error code",
                              ["reward", "code"], registry=r)
        self.timeouts = Counter("rewardkit_reward_timeouts", "Reward calls stopped at their timeout",
                                ["reward"], registry=r)
        self.out_of_range = Counter("rewardkit_scores_out_of_range", "Scores sent outside the range their "
                                    "contract expects, by reward and contract", ["reward", "contract"], registry=r)
        self.restarts = Counter("rewardkit_worker_restarts", "Worker processes replaced, by reason",
                                ["reason"], registry=r)
        self.loop_held = Counter("rewardkit_event_loop_held", "Times an async reward held the event loop for "
                                 "over 0.5 s, by reward", ["reward"], registry=r)
        self.loop_held_seconds = Counter("rewardkit_event_loop_held_seconds", "Seconds the event loop was held, "
                                         "by reward", ["reward"], registry=r)
        # reward requests being handled; read when scraped (a Gauge would take a lock twice a request)
        self.in_flight = 0
        Gauge("rewardkit_requests_in_flight", "Reward requests being handled", registry=r).set_function(
            lambda: self.in_flight)
        # Labelled children by label values: `labels()` validates its arguments on every call, a dict does not.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def watch_engine(self, waiting: Callable[[], float], running: Callable[[], float],
                     size: Callable[[], float]) -> None:
        """Gauges read from the engine when scraped."""
        Gauge("rewardkit_calls_waiting", "Reward calls waiting for a worker (the queue)",
              registry=self.registry).set_function(waiting)
        Gauge("rewardkit_calls_running", "Reward calls running in worker processes",
              registry=self.registry).set_function(running)
        Gauge("rewardkit_workers", "Worker processes in the pool", registry=self.registry).set_function(size)

    def watch_recorder(self, waiting: Callable[[], float]) -> tuple[Callable[[str, int], None], Callable[[int], None]]:
        """The recorder's metrics; returns its callbacks (dropped by reason, written), called from its thread."""
        dropped = Counter("rewardkit_records_dropped", "Records not written, by reason (queue_full: the writer "
                          "was behind; write_error; unrecordable)", ["reason"], registry=self.registry)
        written = Counter("rewardkit_records_written", "Records written", registry=self.registry)
        Gauge("rewardkit_records_waiting", "Records queued for the writer", registry=self.registry).set_function(
            waiting)
        return (lambda reason, count: dropped.labels(reason).inc(count)), written.inc

    def outcomes(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.score is not None:
                self._child(self.values, outcome.reward).observe(outcome.score.value)
            if outcome.failure is not None:
                self._child(self.errors, outcome.reward, outcome.failure.code).inc()
                if outcome.failure.code == TIMEOUT:
                    self._child(self.timeouts, outcome.reward).inc()
            if outcome.components:
                self.outcomes(component.outcome for component in outcome.components)

    def score_out_of_range(self, reward: str, contract: str) -> None:
        self._child(self.out_of_range, reward, contract).inc()

    def loop_stall(self, reward: str, seconds: float) -> None:
        """Called from the loop watch's thread: prometheus counters are thread-safe."""
        self.loop_held.labels(reward).inc()
        self.loop_held_seconds.labels(reward).inc(max(0.0, seconds))

    def request(self, reward: str, contract: str, outcome: str, seconds: float) -> None:
        self._child(self.requests, reward, contract, outcome).inc()
        self._child(self.latency, reward, contract).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
