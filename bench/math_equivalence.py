"""Measure math_accuracy against plain math-verify: on bare answers and on whole model responses.

Usage (from the repository root):

    python bench/math_equivalence.py [--show-errors] [--repeat 3]

Prints, side by side for rewardkit and plain math-verify:
1. bare answers (tests/data/math_equivalence.jsonl): ``answers_equivalent`` on extracted answers;
2. whole responses (tests/data/math_responses.jsonl, written by bench/make_math_responses.py):
   the ``math_accuracy`` reward as a worker runs it (extraction, gold reading, comparison),
   for the "tune" split and the "heldout" split, then per category;
3. answer forms (tests/data/math_forms.jsonl, hand-written, each with its prompt): multiple
   choice, text, dates and times, numbers in words, notation, systems, asides, several
   quantities, very small numbers, units the question fixes; both splits, per class;
4. calls per second on one core (CPU seconds of this process) over the whole-response pairs, in
   GRPO order (the responses of one gold together), caches emptied before each of ``--repeat`` passes; the median pass.

Accuracy; false-positive rate = wrong answers accepted / all wrong answers; false-negative
rate = right answers rejected / all right answers.

Baseline ("plain math-verify"), in its strongest calling mode: ``verify(parse(gold), parse(answer))``
with math-verify's default extraction configs and timeouts, each side wrapped in ``$...$`` when it
carries no math delimiter (``$``, ``\\(``, ``\\[``, ``\\boxed``). Unwrapped, math-verify falls back to its
plain-expression extractor and scores lower (the ``unwrapped`` column on bare answers shows it).
For whole responses math-verify gets the response text (a Gemini thought part is not in it, a
``<think>`` block is) and the gold as the dataset stores it.

Labels are the policy in docs/math.md, set by how each pair is built (see
bench/make_math_responses.py), never by what either grader returns. Errors are listed for the
tune split only: the heldout split is read by its totals.

Runs in the main thread: math-verify's timeouts use ``signal.alarm``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "math_equivalence.jsonl"
RESPONSES = ROOT / "tests" / "data" / "math_responses.jsonl"
FORMS = ROOT / "tests" / "data" / "math_forms.jsonl"


@dataclass(frozen=True)
class Case:
    """A labelled pair: a bare answer (``answer``) or a whole response (``answer`` is the response text)."""

    gold: str
    answer: str
    equivalent: bool
    category: str
    note: str = ""
    split: str = "tune"
    thinking: str = ""
    prompt: str = ""


@dataclass
class Metrics:
    """Confusion counts of one grader on the labelled set."""

    name: str
    true_pos: int = 0
    true_neg: int = 0
    false_pos: int = 0
    false_neg: int = 0
    seconds: float = 0.0
    errors: list[tuple[Case, bool]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.true_pos + self.true_neg + self.false_pos + self.false_neg

    @property
    def accuracy(self) -> float:
        return (self.true_pos + self.true_neg) / self.total if self.total else 0.0

    @property
    def false_positive_rate(self) -> float:
        negatives = self.true_neg + self.false_pos
        return self.false_pos / negatives if negatives else 0.0

    @property
    def false_negative_rate(self) -> float:
        positives = self.true_pos + self.false_neg
        return self.false_neg / positives if positives else 0.0

    def errors_by_category(self) -> Counter[str]:
        return Counter(case.category for case, _ in self.errors)


def load_cases(path: Path = DEFAULT_DATA) -> list[Case]:
    """The bare-answer set, one JSON object per line."""
    with open(path, encoding="utf-8") as handle:
        return [Case(**json.loads(line)) for line in handle if line.strip()]


def load_responses(path: Path = RESPONSES) -> list[Case]:
    """The whole-response set; ``answer`` holds the response."""
    cases = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                row["answer"] = row.pop("response")
                cases.append(Case(**row))
    return cases


def _wrapped(text: str) -> str:
    """math-verify's strongest input: ``$...$`` around a string that carries no math delimiter."""
    return text if any(mark in text for mark in ("$", "\\(", "\\[", "\\boxed")) else f"${text}$"


def plain_math_verify(case: Case) -> bool:
    """What a plain math-verify user computes, in its strongest calling mode (``$``-wrapped)."""
    from math_verify import parse, verify

    return verify(parse(_wrapped(case.gold)), parse(_wrapped(case.answer)))


def plain_math_verify_unwrapped(case: Case) -> bool:
    """Plain math-verify on the bare strings, no ``$`` delimiters."""
    from math_verify import parse, verify

    return verify(parse(case.gold), parse(case.answer))


def rewardkit_equivalent(case: Case) -> bool:
    """rewardkit's comparison alone: ``answers_equivalent`` with its defaults, on a bare answer."""
    from rewards.math._equivalence import answers_equivalent

    return answers_equivalent(case.gold, case.answer).equivalent


def rewardkit_math_accuracy(case: Case) -> bool:
    """The ``math_accuracy`` reward as a worker runs it: parser, gold reading, comparison."""
    from rewardkit._engine.invoke import call_inputs, run_call
    from rewardkit._registry import spec_of
    from rewardkit._sample import sample
    from rewards import math_accuracy

    spec = spec_of(math_accuracy)
    outcome = run_call(spec, call_inputs(spec, sample(case.answer, case.gold, thinking=case.thinking,
                                                      prompt=case.prompt)))
    if outcome.failure is not None:
        raise RuntimeError(f"math_accuracy failed on {case}: {outcome.failure.message}")
    return outcome.score.value == 1.0


def evaluate(name: str, grader: Callable[[Case], bool], cases: Iterable[Case]) -> Metrics:
    """Run ``grader`` on every case and count agreements with the labels."""
    metrics = Metrics(name)
    start = time.perf_counter()
    for case in cases:
        predicted = grader(case)
        if predicted and case.equivalent:
            metrics.true_pos += 1
        elif not predicted and not case.equivalent:
            metrics.true_neg += 1
        else:
            metrics.false_pos += predicted
            metrics.false_neg += not predicted
            metrics.errors.append((case, predicted))
    metrics.seconds = time.perf_counter() - start
    return metrics


def clear_caches() -> None:
    """Forget every parsed gold and answer, so that a timed pass pays for its own parsing."""
    from rewards.math import _equivalence

    _equivalence.clear_caches()


def calls_per_second(grader: Callable[[Case], bool], cases: list[Case], repeat: int) -> float:
    """Median rate over ``repeat`` passes, caches emptied before each, in this process's CPU seconds:
    on a shared machine wall time swings with the other processes' load (the same code measured
    2.3x to 8.5x against math-verify from one pass to the next), CPU time does not."""
    rates = []
    for _ in range(repeat):
        clear_caches()
        start = time.process_time()
        for case in cases:
            grader(case)
        rates.append(len(cases) / (time.process_time() - start))
    return statistics.median(rates)


def _table(results: list[Metrics]) -> str:
    header = f"{'metric':<22}" + "".join(f"{m.name:>32}" for m in results)
    rows = [
        ("accuracy", lambda m: f"{m.accuracy:.1%}"),
        ("false-positive rate", lambda m: f"{m.false_positive_rate:.1%} ({m.false_pos})"),
        ("false-negative rate", lambda m: f"{m.false_negative_rate:.1%} ({m.false_neg})"),
        ("errors", lambda m: str(len(m.errors))),
    ]
    lines = [header] + [f"{label:<22}" + "".join(f"{cell(m):>32}" for m in results) for label, cell in rows]
    return "\n".join(lines)


def _category_table(results: list[Metrics], cases: list[Case]) -> str:
    """Accuracy, false-positive rate and false-negative rate per category, for each grader."""
    sizes = Counter(case.category for case in cases)
    positives = Counter(case.category for case in cases if case.equivalent)
    header = f"{'category (n)':<24}" + "".join(f"{m.name + ' acc / FP / FN':>46}" for m in results)
    lines = [header]
    for category in sorted(sizes):
        cells = ""
        for m in results:
            errors = [(c, p) for c, p in m.errors if c.category == category]
            fp, fn = sum(p for _, p in errors), sum(not p for _, p in errors)
            negatives = sizes[category] - positives[category]
            fp_rate = f"{fp / negatives:.1%}" if negatives else "-"
            fn_rate = f"{fn / positives[category]:.1%}" if positives[category] else "-"
            cells += f"{f'{1 - len(errors) / sizes[category]:.1%} / {fp_rate} / {fn_rate}':>46}"
        lines.append(f"{category + f' ({sizes[category]})':<24}{cells}")
    return "\n".join(lines)


def _error_list(metrics: Metrics) -> str:
    lines = [f"errors of {metrics.name}:"]
    for case, predicted in metrics.errors:
        kind = "FP" if predicted else "FN"
        lines.append(f"  {kind} [{case.category}] gold={case.gold!r} answer={case.answer!r} {case.note}")
    return "\n".join(lines)


def _one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def _section(title: str) -> None:
    print(f"\n== {title}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled bare-answer JSONL set")
    parser.add_argument("--responses", type=Path, default=RESPONSES, help="labelled whole-response JSONL set")
    parser.add_argument("--forms", type=Path, default=FORMS, help="labelled answer-forms JSONL set (with prompts)")
    parser.add_argument("--show-errors", action="store_true", help="list every misclassified pair of the tune split")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes for calls per second (median)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    pinned = _one_core()
    plain_math_verify(Case("1", "1", True, "warm-up"))  # pay sympy's and math-verify's import time first
    rewardkit_math_accuracy(Case("1", "1", True, "warm-up"))

    cases = load_cases(args.data)
    positives = sum(case.equivalent for case in cases)
    _section(f"bare answers: {len(cases)} labelled pairs ({positives} equivalent) from {args.data.name}")
    bare = [evaluate("rewardkit answers_equivalent", rewardkit_equivalent, cases),
            evaluate("math-verify ($-wrapped)", plain_math_verify, cases),
            evaluate("math-verify, unwrapped", plain_math_verify_unwrapped, cases)]
    print(_table(bare))

    responses = load_responses(args.responses)
    results: dict[str, list[Metrics]] = {}
    for split in ("tune", "heldout"):
        chosen = [case for case in responses if case.split == split]
        positives = sum(case.equivalent for case in chosen)
        _section(f"whole responses, {split} split: {len(chosen)} pairs ({positives} equivalent) "
                 f"from {args.responses.name}")
        results[split] = [evaluate("rewardkit math_accuracy", rewardkit_math_accuracy, chosen),
                          evaluate("math-verify ($-wrapped)", plain_math_verify, chosen)]
        print(_table(results[split]))
        print()
        print(_category_table(results[split], chosen))

    forms = load_responses(args.forms)
    for split in ("tune", "heldout"):
        chosen = [case for case in forms if case.split == split]
        positives = sum(case.equivalent for case in chosen)
        _section(f"answer forms, {split} split: {len(chosen)} responses ({positives} right) from {args.forms.name}")
        results[f"forms-{split}"] = [evaluate("rewardkit math_accuracy", rewardkit_math_accuracy, chosen),
                                     evaluate("math-verify ($-wrapped)", plain_math_verify, chosen)]
        print(_table(results[f"forms-{split}"]))
        print()
        print(_category_table(results[f"forms-{split}"], chosen))

    _section(f"speed: calls per second on one core ({pinned}), {len(responses)} whole responses in GRPO order, "
             f"median of {args.repeat} passes, caches emptied before each")
    ordered = sorted(responses, key=lambda case: case.gold)
    ours = calls_per_second(rewardkit_math_accuracy, ordered, args.repeat)
    theirs = calls_per_second(plain_math_verify, ordered, args.repeat)
    print(f"{'rewardkit math_accuracy':<28}{ours:>10.0f} calls/s")
    print(f"{'math-verify ($-wrapped)':<28}{theirs:>10.0f} calls/s")
    print(f"{'ratio':<28}{ours / theirs:>10.2f}x")

    if args.show_errors:
        for metrics in (bare[0], bare[1], *results["tune"], *results["forms-tune"]):
            print("\n" + _error_list(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
