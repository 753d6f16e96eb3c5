"""When to retry a request to a service, how long to wait first, and when to stop: one policy for every client.

The judge client (clients/judge.py), the trainers' batch client (clients/_batch.py) and the
SandboxFusion client (sandbox/remote.py) all retry through `call` / `acall` below, with the
`Policy` each is given here, so what they retry and how they wait is declared once.

The decisions follow openai/openai-python (`src/openai/_base_client.py`: `_should_retry`,
`_calculate_retry_timeout`, `_parse_retry_after_header`): obey `x-should-retry`, retry 408, 429
and 5xx, honour `Retry-After` / `retry-after-ms` up to a cap, else back off exponentially with
jitter. Unlike it, a request spends a deadline, not only a count: no retry starts whose wait
would end past it.

Kept hand-written rather than tenacity or stamina: the whole policy is the pure functions below plus a
ten-line loop per flavour (sync, async), and a library's stop/wait hooks would restate the same
Retry-After, deadline and give-up-message logic around its own call objects, on every judge call.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping, TypeVar, Union

T = TypeVar("T")

INITIAL_DELAY = 0.5  # seconds before the first retry without a Retry-After
MAX_DELAY = 8.0  # exponential backoff stops growing here
MAX_RETRY_AFTER = 120.0  # a server asking for longer than this is not waited for; backoff is used instead
JITTER = 0.25  # each backoff is shortened by up to this fraction, so a burst of retries spreads out

# Request timeout, too many requests, and the server's own failures. 409 (lock timeout) is OpenAI-specific.
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class Policy:
    """How many attempts (the first included; None: as many as the deadline allows) and the backoff's curve."""

    attempts: int | None
    initial: float = INITIAL_DELAY
    cap: float = MAX_DELAY


# Each client's policy, declared here once. A judge call spends its reward's deadline (JudgeLimits.attempts
# overrides the count); a trainer's batch waits out a restarting server (its deadline, 300 s by default);
# a sandbox test is short, so its service gets quicker, fewer retries (`retries=` of code_tests overrides).
JUDGE_ATTEMPTS = 5
JUDGE = Policy(attempts=JUDGE_ATTEMPTS)
BATCH = Policy(attempts=None)
SANDBOX = Policy(attempts=3, initial=0.25, cap=4.0)


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a reply with this status is worth asking again."""
    hint = headers.get("x-should-retry", "").lower()
    if hint in ("true", "false"):
        return hint == "true"
    return status in RETRYABLE_STATUS or status >= 500


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` in seconds or as an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - (time.time() if now is None else now), 0.0)


def delay(attempt: int, headers: Mapping[str, str], rng: random.Random | None = None,
          policy: Policy = JUDGE) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry)."""
    asked = retry_after(headers)
    if asked is not None and asked <= MAX_RETRY_AFTER:
        return asked
    backoff = min(policy.initial * 2.0 ** (attempt - 1), policy.cap)
    return backoff * (1.0 - JITTER * (random.random() if rng is None else rng.random()))


@dataclass(frozen=True)
class Again:
    """An attempt worth repeating: `reason` labels metrics ("429", "timeout", "connection"), `detail` is for
    the final error, `headers` are the reply's (Retry-After)."""

    reason: str
    detail: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GaveUp:
    """No attempt succeeded: how many were made, the last one's `Again`, and why no further one was made."""

    attempts: int
    last: Again
    why: str

    def __str__(self) -> str:
        return f"{self.attempts} attempt{'' if self.attempts == 1 else 's'}; last: {self.last.detail}{self.why}"


Attempt = Union[T, Again]
OnRetry = Callable[[Again], None]


@dataclass
class _Budget:
    policy: Policy
    deadline: float  # time.monotonic()
    failed: int = 0

    def wait(self, again: Again) -> float | GaveUp:
        """Seconds to sleep before the next attempt, or why there is none."""
        self.failed += 1
        if self.policy.attempts is not None and self.failed >= self.policy.attempts:
            return GaveUp(self.failed, again, "")
        wait = delay(self.failed, again.headers, policy=self.policy)
        if time.monotonic() + wait >= self.deadline:
            return GaveUp(self.failed, again, f"; the next retry (in {wait:.1f} s) would pass the deadline")
        return wait


def call(attempt: Callable[[], Attempt[T]], policy: Policy, deadline: float,
         on_retry: OnRetry | None = None) -> T | GaveUp:
    """`attempt()`'s first result that is not `Again`, sleeping between attempts; GaveUp when the policy ends."""
    budget = _Budget(policy, deadline)
    while True:
        result = attempt()
        if not isinstance(result, Again):
            return result
        wait = budget.wait(result)
        if isinstance(wait, GaveUp):
            return wait
        if on_retry is not None:
            on_retry(result)
        time.sleep(wait)


async def acall(attempt: Callable[[], Awaitable[Attempt[T]]], policy: Policy, deadline: float,
                on_retry: OnRetry | None = None) -> T | GaveUp:
    """`call` for a coroutine function, waiting with asyncio.sleep."""
    budget = _Budget(policy, deadline)
    while True:
        result = await attempt()
        if not isinstance(result, Again):
            return result
        wait = budget.wait(result)
        if isinstance(wait, GaveUp):
            return wait
        if on_retry is not None:
            on_retry(result)
        await asyncio.sleep(wait)
