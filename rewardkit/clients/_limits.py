"""A judge's rate limits and concurrency cap on one event loop: shared through Redis when it has one, else its own.

The per-instance token bucket is kept hand-written rather than aiolimiter's leaky bucket: the
tokens-per-minute limit charges an estimate before a request and settles it against the tokens
the reply reports (aiolimiter cannot charge or refund after the fact), and a take whose wait
would pass the request's deadline fails at once instead of waiting to be timed out.
"""

from __future__ import annotations

import asyncio
import time

from .._errors import JudgeError
from ._shared import Shared


class Bucket:
    """A token bucket refilled continuously at `per_minute`; a take that would wait past `until` fails."""

    def __init__(self, per_minute: float, what: str) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.stamp = time.monotonic()
        self.what = what

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float, until: float) -> None:
        amount = min(amount, self.capacity)
        while True:
            self._refill()
            if self.level >= amount:
                self.level -= amount
                return
            wait = (amount - self.level) / self.rate
            if time.monotonic() + wait > until:
                raise too_late(self.what)
            await asyncio.sleep(wait)

    def settle(self, amount: float) -> None:
        """Charge (or refund) the difference between an estimate and what was used; the level may go negative."""
        self._refill()
        self.level = min(self.capacity, self.level - amount)


def too_late(what: str) -> JudgeError:
    return JudgeError(f"the {what} limit would delay this request past its deadline")


class Limit:
    """One per-minute budget (`what`: requests or tokens): Redis's when it answers, else this instance's bucket."""

    def __init__(self, per_minute: float, what: str, shared: Shared | None) -> None:
        self.per_minute = per_minute
        self.what = what
        self.bucket = Bucket(per_minute, f"{what}-per-minute")
        self.shared = shared

    async def take(self, units: float, until: float) -> None:
        if self.shared is not None:
            granted = await self.shared.take(self.what, units, self.per_minute, until)
            if granted is not None:
                if not granted:
                    raise too_late(self.bucket.what)
                return
        await self.bucket.take(units, until)

    async def settle(self, units: float) -> None:
        if self.shared is None or not await self.shared.settle(self.what, units, self.per_minute):
            self.bucket.settle(units)


class Slots:
    """The concurrency cap: `cap` requests in flight on this loop, and across instances while Redis answers."""

    def __init__(self, cap: int, lease: float, shared: Shared | None) -> None:
        self.cap = cap
        self.lease = lease  # a shared slot comes back by itself after this, should its holder die
        self.local = asyncio.Semaphore(cap)
        self.shared = shared

    async def acquire(self, until: float) -> str | bool:
        """True (or the shared slot's holder name) once a slot is ours; False when none freed before `until`."""
        try:
            await asyncio.wait_for(self.local.acquire(), until - time.monotonic())
        except asyncio.TimeoutError:
            return False
        if self.shared is None:
            return True
        holder = await self.shared.acquire(self.cap, self.lease, until)
        if holder is False:
            self.local.release()
        return True if holder is None else holder

    async def release(self, holder: str | bool) -> None:
        self.local.release()
        if self.shared is not None and isinstance(holder, str):
            await self.shared.release(holder)
