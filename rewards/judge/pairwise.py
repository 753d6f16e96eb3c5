"""Pairwise judges: the responses of one prompt compared two at a time, each order asked (position swap).

Against a reference answer each response gets 1 (better), 0.5 (tie, or the judge contradicted
itself when the order swapped) or 0. Among themselves, a round robin (bounded by a call budget:
whole rounds of a circular schedule, so every response meets as many others) scores the share
of comparisons won; a knockout tournament scores the share of rounds survived in N-1 comparisons.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

from rewardkit import Media, RegistrationError, Sample, Score, grouped_reward
from rewardkit.clients import JudgeUnparseable
from rewardkit.registry import DEFAULT_REFERENCE_KEYS

from ._defences import fence, trivial
from ._judging import Asker, JudgeOptions, all_of, connect, gold, quoted
from ._prompts import (
    PLACEHOLDER,
    ShowMedia,
    check_show_media,
    check_template,
    messages,
    prompt_media,
    render,
    seeing_group,
    shown,
)
from ._verdicts import extractor
from .pointwise import _named, judged_text

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

PAIRWISE_PROMPT = """\
Compare two answers to the same question and decide which is better: more correct first, then
more helpful and clearer. Length is not quality.

Question:
{{prompt}}
"""
PAIRWISE_PARSE = r"(?i)verdict\s*[:：]\s*\**\s*(A|B|tie)\b"
_ASK = ("\nAnswer A:\n{a}\n\nAnswer B:\n{b}\n\nThink briefly, then end with one line: "
        '"Verdict: A", "Verdict: B" or "Verdict: tie".')


@dataclass
class _Tally:
    """One response's record across its comparisons."""

    wins: float = 0.0
    games: int = 0
    flips: int = 0
    calls: int = 0
    replies: list[str] = field(default_factory=list)

    def score(self, reason: str) -> Score:
        value = self.wins / self.games if self.games else 0.5
        metrics = {"wins": self.wins, "comparisons": float(self.games), "position_flips": float(self.flips),
                   "judge_calls": float(self.calls)}
        return Score(value, reason, metrics)


class _Comparer:
    """Compares two texts (a first, b second), asking both orders when `swap` is on."""

    def __init__(self, asker: Asker, task: str, swap: bool, system: str | None, media: Sequence[Media] = (),
                 urls: bool = False) -> None:
        self.asker, self.task, self.swap, self.system = asker, task, swap, system
        self.media, self.urls = tuple(media), urls
        self.extract = extractor(PAIRWISE_PARSE, "pairwise")

    async def _verdict(self, first: str, second: str) -> tuple[str, str]:
        question = self.task + _ASK.format(a=fence(first), b=fence(second))
        reply = await self.asker.ask(messages(question, self.system, self.media, self.urls))
        try:
            return self.extract(reply).upper(), reply
        except JudgeUnparseable as exc:
            raise JudgeUnparseable(f"{exc.detail}; {quoted(reply)}") from None

    async def compare(self, a: str, b: str) -> tuple[float, bool, int, str]:
        """(a's result: 1 win / 0.5 tie / 0 loss, whether the swapped order disagreed, calls made, last reply)."""
        a_trivial, b_trivial = trivial(a), trivial(b)
        if a_trivial or b_trivial:  # a trivial answer loses to anything real, and never reaches the judge
            return (0.5 if a_trivial and b_trivial else 0.0 if a_trivial else 1.0), False, 0, ""
        if not self.swap:
            verdict, reply = await self._verdict(a, b)
            return {"A": 1.0, "B": 0.0}.get(verdict, 0.5), False, 1, reply
        (forward, reply), (backward, _) = await all_of([self._verdict(a, b), self._verdict(b, a)])
        mapped = {"A": 1.0, "B": 0.0, "TIE": 0.5}
        first, second = mapped[forward], 1.0 - mapped[backward]
        if first == second:
            return first, False, 2, reply
        return 0.5, True, 2, reply  # the verdict followed the position, not the answers


def _round_robin(size: int, budget: int | None, per_pair: int) -> list[tuple[int, int]]:
    """Pairs to compare: all of them, or whole rounds of the circle method while they fit the budget."""
    every = [(i, j) for i in range(size) for j in range(i + 1, size)]
    if budget is None or len(every) * per_pair <= budget:
        return every
    pairs: list[tuple[int, int]] = []
    for offset in range(1, size // 2 + 1):
        rotation = sorted({tuple(sorted((i, (i + offset) % size))) for i in range(size)})
        if (len(pairs) + len(rotation)) * per_pair > budget:
            break
        pairs.extend(rotation)  # type: ignore[arg-type]
    if not pairs:
        raise ValueError(f"a budget of {budget} judge calls cannot compare each of {size} responses once "
                         f"(one round needs {size * per_pair})")
    return pairs


def _coin(a: str, b: str) -> bool:
    """A tie in a knockout goes to whichever the texts' hash picks: stable on replay, blind to position."""
    return hashlib.sha256(min(a, b).encode() + b"\0" + max(a, b).encode()).digest()[0] % 2 == (a < b)


async def _tournament(texts: list[str], comparer: _Comparer, tallies: list[_Tally]) -> None:
    alive = list(range(len(texts)))
    while len(alive) > 1:
        pairs = [(alive[k], alive[k + 1]) for k in range(0, len(alive) - 1, 2)]
        results = await all_of([comparer.compare(texts[i], texts[j]) for i, j in pairs])
        survivors = [alive[-1]] if len(alive) % 2 else []  # a bye
        for (i, j), (result, flipped, calls, reply) in zip(pairs, results, strict=True):
            for k in (i, j):
                tallies[k].flips += flipped
                tallies[k].calls += calls
                tallies[k].replies.append(reply)
            winner = i if result > 0.5 or (result == 0.5 and _coin(texts[i], texts[j])) else j
            survivors.append(winner)
        for k in survivors:
            tallies[k].wins += 1
        alive = sorted(survivors)


def pairwise_reward(
    name: str,
    *,
    against: Literal["reference", "round_robin", "tournament"] = "reference",
    prompt: str = PAIRWISE_PROMPT,
    budget: int | None = None,
    swap: bool = True,
    system: str | None = None,
    reference_keys: Sequence[str] | None = None,
    show_media: ShowMedia = "inline",
    **options: Unpack[JudgeOptions],
) -> Callable[..., Any]:
    """A grouped pairwise judge over the N responses of one prompt.

    `against="reference"`: each response against the gold answer (N comparisons).
    `"round_robin"`: every pair, or as many whole rounds as `budget` judge calls allow.
    `"tournament"`: a knockout, N-1 comparisons. With `swap` (default) each comparison is asked
    in both orders; when the verdict follows the position instead of the answers it counts as a
    tie and as a `position_flips` metric. `prompt` is the task shown above the two answers.
    """
    if against not in ("reference", "round_robin", "tournament"):
        raise RegistrationError(f"pairwise reward {name!r}: against must be 'reference', 'round_robin' or "
                                f"'tournament', got {against!r}")
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise RegistrationError(f"pairwise reward {name!r}: budget must be a positive number of judge calls")
    check_template(prompt, name, needs=())
    check_show_media(show_media, name)
    if any(m.group(1) == "response" for m in PLACEHOLDER.finditer(prompt)):
        raise RegistrationError(f"pairwise reward {name!r}: the prompt is the task above the two answers; "
                                "rewardkit shows the answers (fenced) itself, so drop {{response}}")
    client, registration = connect(name, options, timeout=120.0)
    per_pair = 2 if swap else 1
    keys = tuple(reference_keys) if reference_keys else DEFAULT_REFERENCE_KEYS

    async def compared(samples: list[Sample]) -> list[Score]:
        if not samples:
            return []
        texts = [judged_text(s, False) for s in samples]
        asker = Asker(client, registration["timeout"])
        comparer = _Comparer(asker, render(prompt, samples[0], "", name), swap, system,
                             shown(prompt_media(samples[0]), show_media), show_media == "urls")
        tallies = [_Tally() for _ in samples]
        if against == "reference":
            expected = gold(samples[0], keys, name)
            results = await all_of([comparer.compare(t, expected) for t in texts])
            for tally, (result, flipped, calls, reply) in zip(tallies, results, strict=True):
                tally.wins, tally.games, tally.flips, tally.calls = result, 1, int(flipped), calls
                tally.replies.append(reply)
        elif against == "round_robin":
            pairs = _round_robin(len(texts), budget, per_pair)
            results = await all_of([comparer.compare(texts[i], texts[j]) for i, j in pairs])
            for (i, j), (result, flipped, calls, reply) in zip(pairs, results, strict=True):
                for k, won in ((i, result), (j, 1.0 - result)):
                    tallies[k].wins += won
                    tallies[k].games += 1
                    tallies[k].flips += flipped
                    tallies[k].calls += calls
                    tallies[k].replies.append(reply)
        else:
            if budget is not None and (len(texts) - 1) * per_pair > budget:
                raise ValueError(f"a knockout of {len(texts)} responses needs {(len(texts) - 1) * per_pair} "
                                 f"judge calls; the budget is {budget}")
            await _tournament(texts, comparer, tallies)
            rounds = math.ceil(math.log2(len(texts))) if len(texts) > 1 else 0
            for tally in tallies:
                tally.games = rounds
        costs = asker.costs.metrics()
        scores = []
        for tally in tallies:
            last = next((r for r in reversed(tally.replies) if r), "")
            reason = f"{tally.wins:g} of {tally.games} won ({against})" + (f"; {quoted(last)}" if last else "")
            score = tally.score(reason)
            scores.append(Score(score.value, score.reason,
                                {**score.metrics, "group_judge_tokens": costs["judge_tokens"]}))
        return scores

    served = seeing_group(compared, show_media)
    _named(served, name, f"LLM pairwise judge {name!r} ({against})")
    return grouped_reward(served, name=name, **registration, reference_keys=keys)
