"""What crosses the pipe between the server and a worker process, and how it is framed.

Messages are pickles framed as multiprocessing's Connection frames them (a
4-byte big-endian length, or -1 and an 8-byte one), so the worker reads
them with plain `Connection.recv_bytes` while the server reads them on its
event loop. Outcomes travel as tuples of builtins: pickling the dataclasses
costs several times as much (a reduce call and a state dict per object),
and the server pays it on every call.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, Optional, Sequence

from .._outcome import Failure, Outcome
from .._score import Score

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")

PackedOutcome = tuple[Optional[float], Optional[str], Optional[dict[str, float]], Optional[str], Optional[str],
                      Optional[str]]


def frame(message: Any) -> bytes:
    payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    size = len(payload)
    header = _LENGTH.pack(size) if size <= 0x7FFFFFFF else _LENGTH.pack(-1) + _LONG_LENGTH.pack(size)
    return header + payload


class FrameReader:
    """Turns the bytes read off a pipe into whole messages, however the reads split them."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        messages, offset, end = [], 0, len(buffer)
        while end - offset >= 4:
            (size,) = _LENGTH.unpack_from(buffer, offset)
            start = offset + 4
            if size == -1:
                if end - start < 8:
                    break
                (size,) = _LONG_LENGTH.unpack_from(buffer, start)
                start += 8
            if end - start < size:
                break
            messages.append(pickle.loads(buffer[start:start + size]))
            offset = start + size
        if offset:
            del buffer[:offset]
        return messages


def pack_outcomes(outcomes: Sequence[Outcome]) -> list[PackedOutcome]:
    """Outcomes of one reward; a worker runs single rewards only (composites combine in the server), so
    there are no components to carry."""
    packed: list[PackedOutcome] = []
    for o in outcomes:
        score, failure = o.score, o.failure
        packed.append((
            None if score is None else score.value,
            None if score is None else score.reason,
            None if score is None or not score.metrics else dict(score.metrics),
            None if failure is None else failure.code,
            None if failure is None else failure.message,
            o.parsed,
        ))
    return packed


def unpack_outcomes(reward: str, packed: Sequence[PackedOutcome]) -> list[Outcome]:
    outcomes = []
    for value, reason, metrics, code, message, parsed in packed:
        score = None if value is None else Score(value, reason, metrics or {})
        failure = None if code is None else Failure(code, message or "")
        outcomes.append(Outcome(reward, score, failure, parsed))
    return outcomes
