"""Several verdicts, one score: a panel of judges (or several samples of one), aggregated under a quorum.

A voter is one panel member (its verdict the mean of its `samples` draws), or, without a panel,
one draw. The score is the `aggregate` of the voters that answered: `mean`, `median`, or
`majority` (the most frequent verdict; a tie goes to the lowest of the tied values, so a split
panel never raises a reward). A voter that failed (no reply in time, an unreadable reply) has no
verdict and does not count; fewer than `quorum` verdicts fail the call with every voter's
error, as JUDGE_UNPARSEABLE when all of them were unreadable replies, else JUDGE_ERROR. Panels
of LLM judges agree with people better than one large judge (Verga et al., 2024, "Replacing
Judges with Juries", arXiv 2404.18796); the quorum keeps one judge's outage from becoming a score.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rewardkit import RegistrationError
from rewardkit.clients import AsyncJudge, JudgeError, JudgeUnparseable

Aggregate = Literal["mean", "median", "majority"]
AGGREGATES: tuple[str, ...] = ("mean", "median", "majority")


@dataclass(frozen=True)
class Vote:
    """One voter's verdict (with the reply it read and how), or the error it ended with."""

    label: str
    value: float | None
    reply: str = ""
    how: str = ""
    error: JudgeError | None = None


@dataclass(frozen=True)
class Member:
    """A panel member: its label (a metric's name), the client asked, and the model asked of it (None: its own)."""

    label: str
    judge: AsyncJudge
    model: str | None = None


def members(reward: str, panel: Sequence[str | AsyncJudge], client: AsyncJudge) -> list[Member]:
    """The panel: a model name is asked through the reward's own client (one concurrency cap, one cache,
    one rate limit for the whole panel, as one endpoint serves them); an AsyncJudge is used as it is."""
    if isinstance(panel, (str, bytes)) or not panel:
        raise RegistrationError(f"judge reward {reward!r}: panel must be a non-empty list of model names or "
                                f"AsyncJudge clients, got {panel!r}")
    found: list[Member] = []
    for member in panel:
        if isinstance(member, AsyncJudge):
            found.append(Member(member.name, member))
        elif isinstance(member, str) and member.strip():
            found.append(Member(member, client, member))
        else:
            raise RegistrationError(f"judge reward {reward!r}: a panel member must be a model name or an AsyncJudge, "
                                    f"got {member!r}")
    labels = [m.label for m in found]
    if len(set(labels)) != len(labels):
        raise RegistrationError(f"judge reward {reward!r}: the panel names a judge twice ({labels}); give each "
                                "AsyncJudge its own name=")
    return found


def check(reward: str, aggregate: Any, quorum: Any, voters: int) -> int:
    """The quorum to apply, after refusing an unknown aggregate or an impossible quorum."""
    if aggregate not in AGGREGATES:
        raise RegistrationError(f"judge reward {reward!r}: aggregate must be one of {', '.join(AGGREGATES)}, "
                                f"got {aggregate!r}")
    if quorum is None:
        return voters
    if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= voters:
        raise RegistrationError(f"judge reward {reward!r}: quorum must be an integer from 1 to {voters} (the "
                                f"voters), got {quorum!r}")
    return quorum


def combine(values: Sequence[float], aggregate: str) -> float:
    """The aggregate of the verdicts (at least one)."""
    if aggregate == "median":
        return float(statistics.median(values))
    if aggregate == "majority":
        counts = Counter(round(v, 9) for v in values)
        top = max(counts.values())
        return min(v for v, n in counts.items() if n == top)
    return sum(values) / len(values)


async def poll(labels: Sequence[str], ballots: Sequence[Awaitable[tuple[float, str, str]]]) -> list[Vote]:
    """Every voter's vote; a JudgeError is that voter's, anything else fails the call (the others cancelled)."""
    tasks = [asyncio.ensure_future(b) for b in ballots]
    try:
        results = await asyncio.gather(*tasks, return_exceptions=True)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    votes = []
    for label, result in zip(labels, results, strict=True):
        if isinstance(result, JudgeError):
            votes.append(Vote(label, None, error=result))
        elif isinstance(result, BaseException):
            raise result
        else:
            value, reply, how = result
            votes.append(Vote(label, value, reply, how))
    return votes


def tally(votes: Sequence[Vote], aggregate: str, quorum: int) -> tuple[float, list[Vote]]:
    """The aggregate of the verdicts given, and those votes; below the quorum, the voters' errors raised."""
    given = [v for v in votes if v.value is not None]
    failed = [v for v in votes if v.error is not None]
    if len(given) >= quorum:
        return combine([v.value for v in given if v.value is not None], aggregate), given
    if len(votes) == 1 and failed[0].error is not None:
        raise failed[0].error
    kind = JudgeUnparseable if all(isinstance(v.error, JudgeUnparseable) for v in failed) else JudgeError
    errors = "; ".join(f"{v.label}: {v.error.detail if v.error else ''}" for v in failed)
    raise kind(f"{len(given)} of {len(votes)} judges gave a verdict, below the quorum of {quorum}: {errors}")
