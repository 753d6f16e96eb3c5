"""The lines an audit works on: training / validation records, their gold answers, a wrong answer for each.

A line is one record of the user's own dataset in a platform's format, read
by its contract (`Contract.read_line`: prompt, references, ground truth). The
gold comes from the record; the wrong answer is a value
that differs from it (a nearby number, another choice letter, another line's
gold), so the known-wrong control says the same kind of thing as the known-correct one.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from .._replay.training import TrainingDataError, dataset_line, json_text_lines
from .._sample import DEFAULT_REFERENCE_KEYS
from ..contracts import Prompt

DEFAULT_SAMPLE = 50
DEFAULT_SEED = 0
TOOL_CALLS_KEY = "tool_calls"
ANSWER = "<ANSWER>"  # where a form puts the value it states
PLACEHOLDER_GOLD = "42"  # for rewards that need no gold (format rewards), probes still need a value to show


@dataclass(frozen=True)
class AuditLine:
    """One dataset line as probes see it.

    `answer` is the gold as a short text ("72" out of a GSM8K solution ending
    in "#### 72"); `wrong` a different value of the same kind; `others` the
    other sampled lines' answers (candidates for enumeration); `calls` the
    expected tool calls when the line holds some. `say(value)` states a value
    in the form the reward credits its gold (chosen from the controls).
    """

    id: str
    platform: str  # the name of the contract whose dataset format the record is in
    record: Mapping[str, Any]
    prompt: str
    gold: Any
    answer: str
    wrong: str
    others: tuple[str, ...] = ()
    calls: tuple[Mapping[str, Any], ...] = ()
    form: str = ANSWER
    has_gold: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    keys: tuple[str, ...] = ()  # where the line keeps its values: its references' keys, "ground_truth" if set
    references: Mapping[str, Any] = field(default_factory=dict)  # its references / rollout_extra (image_size, ...)

    def say(self, value: str) -> str:
        """`value` stated the way this audit states the gold ("72", "The answer is 72.", "\\boxed{72}")."""
        return self.form.replace(ANSWER, value)

    def with_form(self, form: str) -> "AuditLine":
        return replace(self, form=form)


def find_gold(prompt: Prompt, keys: Sequence[str] = DEFAULT_REFERENCE_KEYS) -> Any:
    """The gold as the reward service will see it: the ground truth, else the first reference key present."""
    if prompt.ground_truth is not None:
        return prompt.ground_truth
    for key in keys:
        if prompt.references.get(key) is not None:
            return prompt.references[key]
    return None


def _expected_calls(prompt: Prompt) -> tuple[Mapping[str, Any], ...]:
    value = prompt.references.get(TOOL_CALLS_KEY)
    if value is None:
        value = prompt.ground_truth
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict):
            return ()
        function: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
        name, arguments = function.get("name"), function.get("arguments", function.get("args", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return ()
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return ()
        calls.append({"name": name, "arguments": arguments})
    return tuple(calls)


_BOXED = re.compile(r"\\(?:boxed|fbox)\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def short_answer(gold: Any) -> str:
    """The gold as one short value: after a GSM8K "####", else inside the last \\boxed{}, else the text itself."""
    text = gold if isinstance(gold, str) else json.dumps(gold, ensure_ascii=False)
    if "####" in text:
        return text.rsplit("####", 1)[1].strip()
    boxes: list[str] = _BOXED.findall(text)  # one group: each match is its text
    if boxes:
        return boxes[-1].strip()
    return text.strip()


_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_LETTER = re.compile(r"^\(?([A-Z])\)?\.?$")


def nearby_values(answer: str, count: int) -> list[str]:
    """Values of the same kind as `answer`, all different from it: nearby numbers, other letters ("" when none)."""
    plain = answer.replace(",", "")
    if _NUMBER.match(plain):
        base = float(plain) if "." in plain else int(plain)
        steps = [d for k in range(1, count + 1) for d in (k, -k)][:count]
        return [str(base + step) for step in steps]
    letter = _LETTER.match(answer)
    if letter:
        return [c for c in "ABCDEFGHIJ" if c != letter.group(1)][:count]
    return []


def wrong_answer(answer: str, others: Sequence[str]) -> str:
    """A value that is not the gold: a nearby number or letter, another line's gold, else an altered text."""
    near = nearby_values(answer, 1)
    if near:
        return near[0]
    for other in others:
        if other.strip() != answer.strip():
            return other
    return answer + " (no)" if answer else "no"


def read_lines(path: str | Path, *, sample: int = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED,
               platform: str | None = None,
               gold_keys: Sequence[str] = DEFAULT_REFERENCE_KEYS) -> list[AuditLine]:
    """Up to `sample` lines of a training / validation JSONL, drawn with `seed`, in file order.

    TrainingDataError names the file and line of a record that is no
    platform's (or not `platform`'s when given), or that its platform's
    format refuses (the field, as `rewardkit validate-data` names it).
    """
    path = Path(path)
    numbered = list(json_text_lines(path, "training data"))
    if not numbered:
        raise TrainingDataError(f"{path}: the training data has no lines")
    chosen = sorted(random.Random(seed).sample(range(len(numbered)), min(sample, len(numbered))))
    raw = []
    for index in chosen:
        number, text, record = numbered[index]
        contract = dataset_line(path, number, text, record, platform)
        prompt = contract.read_line(record)
        gold = find_gold(prompt, gold_keys)
        calls = _expected_calls(prompt)
        answer = short_answer(gold) if gold is not None and not calls else (
            json.dumps(list(calls)) if calls else PLACEHOLDER_GOLD)
        keys = (*prompt.references, *(("ground_truth",) if prompt.ground_truth is not None else ()))
        raw.append((f"{path.name}:{number}", contract.name, record, prompt.user_text, gold, answer, calls, keys,
                    dict(prompt.references)))
    answers = [entry[5] for entry in raw]
    lines = []
    for position, (name, fmt, record, text, gold, answer, calls, keys, references) in enumerate(raw):
        others = tuple(dict.fromkeys(a for a in answers[position + 1:] + answers[:position] if a != answer))
        lines.append(AuditLine(name, fmt, record, text, gold, answer,
                               wrong_answer(answer, others), others, calls, has_gold=gold is not None,
                               rng=random.Random(f"{seed}:{name}"), keys=tuple(keys), references=references))
    return lines
