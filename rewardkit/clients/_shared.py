"""A judge's limits and cache shared by every instance of a service, through Redis (redis-py, the `redis` extra).

What is shared, per judge name (keys under `rewardkit:judge:`):

- requests and tokens per minute: GCRA (the generic cell rate algorithm), as a Lua script run
  atomically by Redis on its own clock, following rwz/redis-gcra `vendor/perform_gcra_ratelimit.lua`
  (itself after brandur/redis-cell). The burst is one minute's worth, as the per-instance bucket
  allows; `settle` moves the theoretical arrival time by the tokens a reply really used;
- the concurrency cap: a counting semaphore of leases in a sorted set (holder -> lease end),
  after "Redis in Action" (Josiah Carlson) 6.3, "Counting semaphores", in one script: a crashed
  instance's slots come back when their lease ends;
- the cache: one string per verdict, with an expiry.

Redis unreachable (or answering errors) is never a judge failure: every operation returns None, the
caller uses its per-instance limit or cache instead, a warning is logged once per outage and
`rewardkit_judge_redis_fallbacks` counts the operations. After `RECONNECT_AFTER` seconds the next
operation tries Redis again, so the service recovers by itself when Redis returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from . import _telemetry

if TYPE_CHECKING:
    import redis.asyncio

T = TypeVar("T")
log = logging.getLogger("rewardkit.judge")

URL_ENV = "REWARDKIT_REDIS_URL"
PREFIX = "rewardkit:judge:"
TIMEOUT = 0.5  # seconds a Redis operation may take before the judge goes on without it (a same-region Redis: ~1 ms)
RECONNECT_AFTER = 2.0  # seconds after a failure before Redis is tried again (no connect timeout paid per call)
CACHE_TTL = 7 * 24 * 3600  # seconds a shared verdict is kept: a job's replays and reruns, not forever
SLOT_POLL = (0.005, 0.1)  # first and longest wait between tries for a shared concurrency slot

# GCRA on Redis's clock. KEYS[1]: the theoretical arrival time (TAT). ARGV: seconds per unit (emission
# interval), burst in seconds, units, and "1" to settle (move the TAT without checking: a charge or refund).
# Returns {granted, seconds to wait}.
GCRA = """
local interval, burst, units, settle = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == "1"
local clock = redis.call("TIME")
local now = clock[1] + clock[2] / 1000000
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
local new_tat = math.max(tat, now) + interval * units
if not settle and new_tat - burst > now then
  return {0, tostring(new_tat - burst - now)}
end
new_tat = math.max(new_tat, now)
redis.call("SET", KEYS[1], tostring(new_tat), "EX", math.ceil(new_tat - now) + 1)
return {1, "0"}
"""

# A lease on one of ARGV[1] slots for holder ARGV[2], for ARGV[3] seconds. KEYS[1]: holder -> lease end.
SEMAPHORE = """
local clock = redis.call("TIME")
local now = clock[1] + clock[2] / 1000000
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
if redis.call("ZCARD", KEYS[1]) < tonumber(ARGV[1]) then
  redis.call("ZADD", KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call("EXPIRE", KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
  return 1
end
return 0
"""


def where(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


@dataclass
class _Health:
    """Whether a Redis is usable, shared by every judge and loop of the process that use it."""

    url: str
    down_until: float = 0.0
    down: bool = False


_HEALTH: dict[str, _Health] = {}


@dataclass
class Shared:
    """One judge's view of one Redis on one event loop. Every method returns None when Redis failed."""

    url: str
    judge: str
    client: "redis.asyncio.Redis"
    scripts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def connect(cls, url: str, judge: str) -> "Shared":
        try:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise ImportError("a shared judge limit or cache needs redis-py: pip install 'rewardkit[redis]'") from None

        # No retries inside redis-py: a failed operation falls back at once, and Redis is tried again later.
        client = redis.asyncio.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
                                              retry=Retry(NoBackoff(), 0))
        shared = cls(url, judge, client)
        shared.scripts = {"gcra": client.register_script(GCRA), "semaphore": client.register_script(SEMAPHORE)}
        _HEALTH.setdefault(url, _Health(url))
        return shared

    async def _guard(self, operation: str, run: Callable[[], Awaitable[T]]) -> T | None:
        """`run()`, or None (counted, and warned about once per outage) when Redis is down or fails."""
        import redis

        health = _HEALTH[self.url]
        if health.down and time.monotonic() < health.down_until:
            _telemetry.REDIS_FALLBACKS.labels(self.judge, operation).inc()
            _telemetry.REDIS_UP.labels(self.judge).set(0)
            return None
        try:
            result = await run()
        except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
            _telemetry.REDIS_FALLBACKS.labels(self.judge, operation).inc()
            health.down_until = time.monotonic() + RECONNECT_AFTER
            _telemetry.REDIS_UP.labels(self.judge).set(0)
            if not health.down:
                health.down = True
                log.warning("Redis at %s failed (%s: %s): judge limits and cache are per instance until it answers "
                            "again (tried every %g s)", where(self.url), type(exc).__name__, exc, RECONNECT_AFTER)
            return None
        if health.down:
            health.down = False
            log.warning("Redis at %s answers again: judge limits and cache are shared again", where(self.url))
        _telemetry.REDIS_UP.labels(self.judge).set(1)
        return result

    def _key(self, what: str) -> str:
        return f"{PREFIX}{self.judge}:{what}"

    async def take(self, what: str, units: float, per_minute: float, until: float) -> bool | None:
        """Wait for `units` of the shared per-minute budget `what`: True once granted, False when the wait would
        pass `until`, None when Redis failed."""
        interval = 60.0 / per_minute
        units = min(units, per_minute)
        while True:
            answer = await self._guard(what, lambda: self.scripts["gcra"](
                keys=[self._key(what)], args=[repr(interval), "60", repr(units), "0"]))
            if answer is None:
                return None
            granted, wait = int(answer[0]), float(answer[1])
            if granted:
                return True
            if time.monotonic() + wait > until:
                return False
            await asyncio.sleep(wait)

    async def settle(self, what: str, units: float, per_minute: float) -> bool:
        """Charge (units > 0) or refund the shared budget `what` without waiting; False when Redis failed."""
        done = await self._guard(what, lambda: self.scripts["gcra"](
            keys=[self._key(what)], args=[repr(60.0 / per_minute), "60", repr(units), "1"]))
        return done is not None

    async def acquire(self, cap: int, lease: float, until: float) -> str | bool | None:
        """A holder name once one of `cap` shared slots is ours (for at most `lease` seconds); False when none
        freed before `until`; None when Redis failed."""
        holder = os.urandom(8).hex()
        pause = SLOT_POLL[0]
        while True:
            granted = await self._guard("concurrency", lambda: self.scripts["semaphore"](
                keys=[self._key("slots")], args=[str(cap), holder, repr(lease)]))
            if granted is None:
                return None
            if granted:
                return holder
            if time.monotonic() + pause > until:
                return False
            await asyncio.sleep(pause * (0.5 + random.random() / 2))
            pause = min(pause * 2, SLOT_POLL[1])

    async def release(self, holder: str) -> None:
        await self._guard("concurrency", lambda: self.client.zrem(self._key("slots"), holder))

    async def get(self, key: str) -> bytes | None:
        found: Any = await self._guard("cache", lambda: self.client.get(f"{PREFIX}cache:{key}"))
        return found if isinstance(found, bytes) else None

    async def put(self, key: str, value: bytes) -> None:
        await self._guard("cache", lambda: self.client.set(f"{PREFIX}cache:{key}", value, ex=CACHE_TTL))

    async def aclose(self) -> None:
        await self.client.aclose()
