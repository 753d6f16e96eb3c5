"""Notices the event loop held by one callback, and names the async reward that held it.

Async rewards run on the server's event loop; one that computes, or calls
something blocking, stops every other request (and /health) until it
returns. A thread watches a heartbeat the loop keeps; when the beat is late
by more than STALL seconds it looks at what the loop's thread is running,
and once the loop is back it logs the reward and for how long it held the
loop, and counts it (the rule it teaches: CPU work belongs in sync rewards,
which run in worker processes).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import time
from types import CodeType
from typing import Callable, Iterable

from .._registry import AnySpec, RewardSpec

log = logging.getLogger("rewardkit")

STALL = 0.5  # seconds the loop may be held before it is reported
_BEAT = 0.1  # seconds between heartbeats
UNKNOWN = "(not a reward)"


def reward_codes(specs: Iterable[AnySpec]) -> dict[CodeType, str]:
    """The code object of each async reward's function, to recognise its frame on the loop's stack."""
    codes = {}
    for spec in specs:
        if isinstance(spec, RewardSpec) and spec.is_async:
            codes[inspect.unwrap(spec.fn).__code__] = spec.name
    return codes


class LoopWatch:
    def __init__(self, codes: dict[CodeType, str], on_stall: Callable[[str, float], None],
                 stall: float = STALL) -> None:
        self.codes = codes
        self.on_stall = on_stall
        self.stall = stall
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop_thread = threading.get_ident()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="rewardkit-loop-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()

    def _tick(self) -> None:
        self._beat = time.monotonic()
        self._handle = self._loop.call_later(_BEAT, self._tick)

    def _holder(self) -> str:
        """The async reward whose code the loop's thread is running now, innermost first."""
        frame = sys._current_frames().get(self._loop_thread)
        while frame is not None:
            name = self.codes.get(frame.f_code)
            if name is not None:
                return name
            frame = frame.f_back
        return UNKNOWN

    def _watch(self) -> None:
        held_since: float | None = None
        holder = UNKNOWN
        while not self._stop.wait(_BEAT):
            beat = self._beat
            late = time.monotonic() - beat - _BEAT
            if held_since is None:
                if late > self.stall:
                    held_since, holder = beat, self._holder()
            elif beat > held_since:  # the loop is back
                self._report(holder, beat - held_since - _BEAT)
                held_since = None
            elif holder == UNKNOWN:
                holder = self._holder()

    def _report(self, holder: str, seconds: float) -> None:
        if holder == UNKNOWN:
            log.warning("the event loop was held for %.1f s by something other than an async reward", seconds,
                        extra={"fields": {"loop_held_seconds": round(seconds, 3)}})
        else:
            log.warning("async reward %r held the event loop for %.1f s: no other request was served meanwhile. "
                        "CPU work and blocking calls belong in sync rewards (def, not async def), which run in "
                        "worker processes", holder, seconds,
                        extra={"fields": {"reward": holder, "loop_held_seconds": round(seconds, 3)}})
        self.on_stall(holder, seconds)
