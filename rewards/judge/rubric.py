"""Rubric judges: weighted criteria, each answered from an ordered menu, scored as a weighted mean."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

from rewardkit import RegistrationError, Sample, Score, reward
from rewardkit.clients import JudgeUnparseable

from ._defences import trivial
from ._judging import Asker, JudgeOptions, all_of, connect, quoted
from ._prompts import ShowMedia, check_show_media, check_template, json_question, messages, render, seeing, shown
from ._verdicts import last_json_object
from .pointwise import _named, judged_text

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

RUBRIC_TASK = """\
Question:
{{prompt}}

Answer to grade:
{{response}}
"""


@dataclass(frozen=True)
class Criterion:
    """One thing to judge. `choices` run from worst to best and map evenly onto [0, 1]."""

    name: str
    description: str
    choices: tuple[str, ...] = ("poor", "fair", "good", "excellent")
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][\w-]*", self.name or ""):
            raise RegistrationError(
                f"criterion name {self.name!r}: use letters, digits, '_' or '-' (it names a metric)")
        if self.name.startswith("judge_"):
            raise RegistrationError(
                f"criterion name {self.name!r}: judge_* metrics report the judge's costs; rename it")
        folded = [c.strip().casefold() for c in self.choices]
        if len(folded) < 2 or len(set(folded)) != len(folded) or not all(folded):
            raise RegistrationError(f"criterion {self.name!r}: choices must be 2 or more distinct non-empty answers, "
                                    f"worst first; got {self.choices!r}")
        if not isinstance(self.weight, (int, float)) or self.weight <= 0:
            raise RegistrationError(f"criterion {self.name!r}: weight must be > 0, got {self.weight!r}")

    def value(self, answer: Any) -> float:
        """The answer's place on the menu, in [0, 1]; an answer off the menu is the judge's failure."""
        folded = [c.strip().casefold() for c in self.choices]
        key = answer.strip().casefold() if isinstance(answer, str) else None
        if key not in folded:
            raise JudgeUnparseable(f"criterion {self.name!r}: {answer!r} is not one of {list(self.choices)}")
        return folded.index(key) / (len(folded) - 1)


def _question(criteria: Sequence[Criterion]) -> str:
    return json_question("Grade the answer on each criterion below. Choose exactly one of the listed answers for "
                         "each, worst to best as listed.",
                         [(c.name, f'{c.description} Answers: {", ".join(json.dumps(x) for x in c.choices)}.')
                          for c in criteria], '"<answer>"')


def _read(reply: str, criteria: Sequence[Criterion]) -> dict[str, float]:
    """Each criterion's value from a reply; a missing or extra criterion, or an off-menu answer, is unparseable."""
    try:
        answers = last_json_object(reply)
        expected = {c.name for c in criteria}
        missing, extra = sorted(expected - set(answers)), sorted(set(answers) - expected)
        if missing or extra:
            raise JudgeUnparseable(f"the verdict {'lacks ' + ', '.join(missing) if missing else ''}"
                                   f"{' and ' if missing and extra else ''}"
                                   f"{'has unknown criteria ' + ', '.join(extra) if extra else ''}")
        return {c.name: c.value(answers[c.name]) for c in criteria}
    except JudgeUnparseable as exc:
        raise JudgeUnparseable(f"{exc.detail}; {quoted(reply)}") from None


def rubric_reward(
    name: str,
    *,
    criteria: Sequence[Criterion] | Mapping[str, str],
    prompt: str = RUBRIC_TASK,
    ask: Literal["together", "each"] = "together",
    system: str | None = None,
    keep_thinking: bool = False,
    show_media: ShowMedia = "inline",
    **options: Unpack[JudgeOptions],
) -> Callable[..., Any]:
    """A rubric judge: the weighted mean of the criteria's values, each criterion a metric (`<reward>.<criterion>`).

    `criteria` are Criterion(name, description, choices worst-to-best, weight), or a mapping of
    name to description (default choices poor/fair/good/excellent). `ask="together"` asks for one
    JSON verdict covering every criterion; `ask="each"` asks once per criterion, concurrently.
    `prompt` is the task shown above the criteria (autorater placeholders). An answer off a
    criterion's menu, or a verdict missing a criterion or naming an unknown one, fails the call
    as JUDGE_UNPARSEABLE. `options`: see JudgeOptions (model, base_url, limits, timeout, ...).
    """
    items = [Criterion(k, v) for k, v in criteria.items()] if isinstance(criteria, Mapping) else list(criteria)
    if not items or not all(isinstance(c, Criterion) for c in items):
        raise RegistrationError(
            f"rubric reward {name!r}: criteria must be Criterion(...) objects or a name -> description mapping")
    if len({c.name for c in items}) != len(items):
        raise RegistrationError(f"rubric reward {name!r}: a criterion is listed twice")
    if ask not in ("together", "each"):
        raise RegistrationError(f"rubric reward {name!r}: ask must be 'together' or 'each', got {ask!r}")
    check_template(prompt, name)
    check_show_media(show_media, name)
    groups = [items] if ask == "together" else [[c] for c in items]
    total = sum(c.weight for c in items)
    client, registration = connect(name, options)

    async def graded(sample: Sample) -> Score:
        response = judged_text(sample, keep_thinking)
        unfit = trivial(response)
        if unfit:
            zeros = {c.name: 0.0 for c in items}
            return Score(0.0, f"{unfit}: the minimum, without asking the judge", {**zeros, "judge_calls": 0.0})
        task = render(prompt, sample, response, name)
        asker = Asker(client, registration["timeout"])
        seen, urls = shown(sample.media, show_media), show_media == "urls"
        replies = await all_of([asker.ask(messages(f"{task}\n{_question(group)}", system, seen, urls))
                                for group in groups])
        values: dict[str, float] = {}
        for reply, group in zip(replies, groups, strict=True):
            values.update(_read(reply, group))
        score = sum(c.weight * values[c.name] for c in items) / total
        reason = "; ".join(f"{c.name}={values[c.name]:.2g}" for c in items)
        return Score(score, f"{reason}; {quoted(replies[-1])}", {**values, **asker.costs.metrics()})

    served = seeing(graded, show_media)
    _named(served, name, f"LLM rubric judge {name!r}: {', '.join(c.name for c in items)}")
    return reward(served, name=name, **registration)
