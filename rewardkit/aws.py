"""The reward Lambda of an Amazon Nova reinforcement fine-tuning job (Amazon Bedrock, SageMaker AI).

Point the function's handler at `rewardkit.aws.lambda_handler` (the image in deploy/aws/ does).
It serves the rewards `rewardkit serve` would, configured the same way:

- `REWARDKIT_TARGET`: the module or .py file that defines the rewards (default: the built-in package);
- `REWARDKIT_REWARD`: the reward to score with (default: the target's only top-level reward);
- `REWARDKIT_TIMEOUT`, `REWARDKIT_WORKERS`, `REWARDKIT_WORKER_MEMORY_MB`, ...: as for `rewardkit serve`.

The event is the Nova batch (rewardkit/contracts/nova.py says which fields and where the docs are);
the answer is the list the platform reads, one entry per item, in order. The batch takes the steps
of the `/rewards/{name}/nova` route (validate, build samples, score through the engine, render), so
a reward scores the same in the Lambda as over HTTP.

The target is loaded and the worker processes started once per container and kept while Lambda
keeps the container: when the Lambda runtime imports this module (its init phase, which runs with
the full CPU), else on the first invocation. A target that cannot be served fails every invocation
with the reason (`ConfigurationError`, or the loader's error). Sync rewards run in rewardkit's worker
processes, which need no /dev/shm (Lambda has none, which is why `multiprocessing.Queue` and `Pool`
fail there): the pool talks to its workers over socket pairs. So an item that overruns its timeout
is killed and answered TIMEOUT while the rest of the batch is scored. `REWARDKIT_WORKERS` defaults
to the vCPUs Lambda gives the function (about one per 1,769 MB of memory).

A batch is answered only when every item has a score; otherwise the handler raises
`BatchFailedError` naming each failed item, and the platform receives the invocation's error (the
answer has no per-item failure field: see the contract's docstring). A bad event raises
`InvalidEventError` naming the field. A batch that cannot finish within the invocation's remaining
time (with a second to spare) raises `BatchFailedError` instead of being cut off by Lambda.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from ._errors import RewardkitError

__all__ = ["lambda_handler", "BatchFailedError", "ConfigurationError", "InvalidEventError"]

log = logging.getLogger("rewardkit")

# Seconds kept back from the invocation's remaining time, to raise a clear error before Lambda stops it.
DEADLINE_MARGIN = 1.0
UNBOUNDED = 1 << 30


class InvalidEventError(RewardkitError):
    """The event is not a Nova reward batch; the message names the field and what was expected."""


class BatchFailedError(RewardkitError):
    """The batch was not scored: some items failed (named in the message), or time ran out."""


class ConfigurationError(RewardkitError):
    """REWARDKIT_TARGET / REWARDKIT_REWARD do not name one reward the function can serve; the message says why."""


class _Service:
    """What one Lambda container keeps between invocations: the rewards, the engine and its event loop."""

    def __init__(self) -> None:
        from ._engine.inline import InlineEngine, contain_task_exits
        from ._engine.pool import ProcessEngine
        from ._loader import load_registry, resolve_target
        from ._registry import default_reward
        from ._settings import load_settings
        from .contracts.nova import CONTRACT

        target = resolve_target(None)
        self.registry = load_registry(target)
        name = default_reward(self.registry, os.environ.get("REWARDKIT_REWARD") or None)
        if name is None:
            raise ConfigurationError("the Lambda scores with one reward and REWARDKIT_REWARD is not set: set it to "
                                     f"one of {', '.join(self.registry.names())}")
        self.spec = self.registry.get(name)
        self.contract = CONTRACT
        if self.spec.grouped:  # every batch would be refused: say so once, as the function starts
            raise ConfigurationError(CONTRACT.refuse_grouped.format(name=name))
        # One invocation at a time per container, and the batch is all of it: no queue bound (the HTTP
        # server's 503 for a busy instance) unless REWARDKIT_MAX_QUEUE asks for one.
        queue_bound_set = bool(os.environ.get("REWARDKIT_MAX_QUEUE", "").strip())
        settings = load_settings(None if queue_bound_set else {"max_queue": UNBOUNDED})
        self.engine = (ProcessEngine(target, self.registry, settings) if settings.worker_count > 0
                       else InlineEngine(self.registry, timeout=settings.timeout))
        from ._serving.trace import tracing_from_env

        self.tracing = tracing_from_env()  # spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        contain_task_exits(self.loop)
        self.loop.run_until_complete(self.engine.start())
        log.info("rewardkit Lambda: scoring with %r from %s, %s", name, self.registry.source,
                 f"{settings.worker_count} worker processes" if settings.worker_count > 0 else "in-process")

    def score(self, event: Any, seconds_left: float | None) -> Any:
        """The answer to `event`, taking the steps of the `/rewards/{name}/nova` route (`_serving.answer.answer`)."""
        from ._serving.answer import answer
        from ._serving.http import HTTPProblem

        budget = None if seconds_left is None else max(seconds_left - DEADLINE_MARGIN, 0.001)
        try:
            status, body, _ = self.loop.run_until_complete(
                asyncio.wait_for(answer(self.contract, self.spec, event, self.engine, self.tracing), budget))
        except asyncio.TimeoutError:
            raise BatchFailedError(f"the batch of {len(event) if isinstance(event, list) else '?'} items was not "
                                   f"scored within the invocation's remaining {seconds_left:.0f} s: raise the "
                                   "function's Timeout (up to 900 s) or lower the reward's timeout") from None
        except HTTPProblem as exc:  # refused before scoring: the event (4xx), or the engine too busy (503)
            raise (InvalidEventError if exc.status < 500 else BatchFailedError)(exc.message) from None
        finally:
            if self.tracing is not None:  # before the container is frozen until the next invocation
                self.tracing.flush()
        if status == 200:
            return body
        log.error("batch failed: %s", json.dumps(body.get("failed"))[:4000])
        raise BatchFailedError(body.get("message") or json.dumps(body)[:1000])


_service: _Service | None = None


def _start_in_init_phase() -> None:
    """Load the target while the Lambda runtime imports the handler; a failure waits for the first invocation,
    which tries again and reports it as that invocation's error (an init error would only say the import failed)."""
    global _service
    try:
        _service = _Service()
    except Exception as exc:  # reported by the invocations
        log.error("rewardkit Lambda could not start: %s: %s", type(exc).__name__, exc)


if os.environ.get("AWS_LAMBDA_RUNTIME_API"):  # imported by the Lambda runtime, not by a test or a script
    _start_in_init_phase()


def lambda_handler(event: Any, context: Any = None) -> Any:
    """Score a Nova RFT batch: the list of `{id, aggregate_reward_score, metrics_list}` the platform reads."""
    global _service
    if _service is None:
        _service = _Service()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return _service.score(event, remaining() / 1000 if callable(remaining) else None)
