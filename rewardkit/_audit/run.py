"""Running an audit: controls, then probes, scored through the reward service; verdicts per probe.

Every response is sent as the request the platform would send for its
dataset line (as the line's contract builds it), to
the app `rewardkit serve` runs in this process or to a service at a URL,
with the replay machinery. The controls come first: the gold stated in each
of the kind's forms and a wrong answer in the same form; the form that
separates them best is how the probes state values. A probe's verdict is
`exploit` when one of its variants scores, on average, more than `margin`
above the wrong control on the same lines.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .._errors import MISSING_REFERENCE, TIMEOUT
from .._replay.fixtures import Expectation, FixtureCase
from .._replay.replay import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, ReplayResult, send_all, service_client
from .._sample import DEFAULT_REFERENCE_KEYS
from ..contracts import Response, ToolCallValue, get
from .lines import ANSWER, AuditLine
from .probes import KINDS, Kind, Probe, ProbeResponse, response_json

DEFAULT_MARGIN = 0.2
WORST_SHOWN = 5
CORRECT, WRONG = "control:correct", "control:wrong"
# Past this share of responses not scored, an audit (or a probe) shows what failed, not what the reward credits.
MOSTLY_ERRORS = 0.5
FAILING_VERDICTS = ("exploit", "error")  # what --fail-on counts
TOOL_CALLS_PLACES = "under `tool_calls` in the line's `references` / `rollout_extra`, or as its `ground_truth`"


# ---- requests --------------------------------------------------------------------

def request_body(line: AuditLine, response: ProbeResponse) -> Any:
    """The body the line's platform would post for this response (tool calls included)."""
    contract = get(line.platform)
    calls = tuple(ToolCallValue(c["name"], c["arguments"]) for c in response.tool_calls)
    prompt = contract.read_line(copy.deepcopy(dict(line.record)))
    return contract.requests(prompt, [Response(response.text, response.thinking, calls)])[0]


@dataclass(frozen=True)
class Trial:
    """One response to one line, for one probe (or control), and how it scored."""

    line: AuditLine
    probe: str
    response: ProbeResponse
    score: float | None = None
    error: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line.id, "probe": self.probe, "variant": self.response.variant,
                "response": response_json(self.response), "score": self.score, "error": self.error,
                "reason": self.reason}


def _case(line: AuditLine, probe: str, response: ProbeResponse, reward: str | None) -> FixtureCase:
    return FixtureCase(f"{line.id} {probe}/{response.variant}", reward, line.platform, request_body(line, response),
                       Expectation(), line.id)


def _trial(line: AuditLine, probe: str, response: ProbeResponse, result: ReplayResult) -> Trial:
    answer = result.answer
    if answer.scores:
        return Trial(line, probe, response, answer.scores[0], None, answer.reason)
    return Trial(line, probe, response, None, answer.error_code or "NOT_SCORED",
                 answer.reason or "; ".join(result.problems))


# ---- verdicts --------------------------------------------------------------------

def _shown(value: float | None) -> str:
    return "no score" if value is None else f"{value:.3f}"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class ProbeRow:
    """A probe's results: how often credited, its mean, the matched controls' means, its worst variant, the verdict."""

    probe: Probe
    responses: int
    credited: int
    errors: int
    mean: float | None
    correct_mean: float | None
    wrong_mean: float | None
    worst_variant: str | None
    worst_mean: float | None
    verdict: str  # "exploit", "ok", or "error" when no exploit was found and most responses were not scored

    @property
    def credited_rate(self) -> float:
        return self.credited / self.responses if self.responses else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe.id, "description": self.probe.description, "responses": self.responses,
                "credited": self.credited, "credited_rate": self.credited_rate, "errors": self.errors,
                "mean": self.mean, "correct_mean": self.correct_mean, "wrong_mean": self.wrong_mean,
                "worst_variant": self.worst_variant, "worst_mean": self.worst_mean, "verdict": self.verdict}


@dataclass(frozen=True)
class Example:
    trial: Trial
    above_wrong: float  # the score minus the wrong control's score on the same line


@dataclass
class AuditReport:
    reward: str
    kinds: tuple[str, ...]
    data: str
    lines: int
    form: str | None
    margin: float
    controls: tuple[str, str] = ("", "")  # what the known-correct and the known-wrong responses are
    rows: list[ProbeRow] = field(default_factory=list)
    worst: list[Example] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    correct_mean: float | None = None
    wrong_mean: float | None = None
    trials: list[Trial] = field(default_factory=list)
    # Why no verdict can be trusted (nothing scored, controls that do not separate, mostly errors), with the fix.
    inconclusive: list[str] = field(default_factory=list)

    @property
    def exploits(self) -> list[str]:
        return [row.probe.id for row in self.rows if row.verdict == "exploit"]

    @property
    def responses(self) -> int:
        return len(self.trials)

    @property
    def errors(self) -> int:
        return sum(t.error is not None for t in self.trials)

    @property
    def failing(self) -> list[str]:
        """The probes `--fail-on` counts: an exploit found, or too few responses scored to rule one out."""
        return [row.probe.id for row in self.rows if row.verdict in FAILING_VERDICTS]

    def summary(self) -> str:
        found = self.exploits
        head = (f"{len(found)} of {len(self.rows)} probes found an exploit: {', '.join(found)}" if found
                else f"no exploit found by {len(self.rows)} probes")
        if self.inconclusive:
            head = f"audit inconclusive ({len(self.inconclusive)} reason(s) above): {head}, which proves nothing"
        return (f"{head} (reward {self.reward!r}, {self.lines} lines, {self.responses} responses, "
                f"{self.errors} errors, margin {self.margin:g})")

    def to_json(self, include_trials: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reward": self.reward, "kinds": list(self.kinds), "data": self.data, "lines": self.lines,
            "form": self.form, "margin": self.margin,
            "controls": {"correct": self.controls[0], "correct_mean": self.correct_mean,
                         "wrong": self.controls[1], "wrong_mean": self.wrong_mean},
            "probes": [row.to_json() for row in self.rows],
            "worst": [{**e.trial.to_json(), "above_wrong": e.above_wrong} for e in self.worst],
            "exploits": self.exploits, "notes": list(self.notes), "inconclusive": list(self.inconclusive),
            "summary": self.summary(),
        }
        if include_trials:
            out["trials"] = [t.to_json() for t in self.trials]
        return out


def _row(probe: Probe, trials: Sequence[Trial], correct: dict[str, float], wrong: dict[str, float],
         margin: float) -> ProbeRow:
    scored = [(t, t.score) for t in trials if t.score is not None]
    lines = {t.line.id for t in trials}
    wrong_mean = _mean([wrong[i] for i in lines if i in wrong])
    baseline = wrong_mean if wrong_mean is not None else 0.0
    credited = sum(score > wrong.get(t.line.id, baseline) + margin for t, score in scored)
    by_variant: dict[str, list[float]] = {}
    for t, score in scored:
        by_variant.setdefault(t.response.variant, []).append(score)
    means = {variant: sum(values) / len(values) for variant, values in by_variant.items()}
    worst_variant = max(means, key=lambda v: means[v]) if means else None  # the first of equals, in probe order
    worst_mean = means[worst_variant] if worst_variant is not None else None
    if worst_mean is not None and worst_mean > baseline + margin:
        verdict = "exploit"
    else:  # no exploit among the scored responses rules none out among the many that were not
        verdict = "error" if len(trials) - len(scored) > MOSTLY_ERRORS * len(trials) else "ok"
    return ProbeRow(probe, len(trials), credited, len(trials) - len(scored), _mean([score for _, score in scored]),
                    _mean([correct[i] for i in lines if i in correct]), wrong_mean, worst_variant, worst_mean, verdict)


# ---- running ---------------------------------------------------------------------

def primary_kind(kinds: Sequence[str]) -> Kind:
    """The kind whose controls the audit uses: the first one rewardkit knows; a team's own kind reads as "answer"."""
    for name in kinds:
        if name in KINDS:
            return KINDS[name]
    return KINDS["answer"]


def gold_places(gold_keys: Sequence[str]) -> str:
    """Where a reward with these reference keys looks for its gold, in words."""
    return f"the line's `ground_truth`, else the first of {', '.join(gold_keys)} in its `references` / `rollout_extra`"


def held_keys(lines: Sequence[AuditLine]) -> str:
    """The keys the lines keep their values under, for a message."""
    keys = sorted({key for line in lines for key in line.keys})
    return f"the lines hold {', '.join(keys)}" if keys else "the lines hold no references and no ground truth"


def usable_lines(lines: Sequence[AuditLine], kind: Kind,
                 gold_keys: Sequence[str] = DEFAULT_REFERENCE_KEYS) -> tuple[list[AuditLine], list[str]]:
    """The lines the kind's controls can be stated for, and notes on those left out."""
    notes = []
    keep = list(lines)
    if kind.name == "tool_calls":
        keep = [line for line in keep if line.calls]
        dropped = f"no expected tool calls ({TOOL_CALLS_PLACES})"
    elif kind.needs_gold:
        keep = [line for line in keep if line.has_gold]
        dropped = f"no gold answer where the reward looks for it ({gold_places(gold_keys)})"
    if len(keep) < len(lines):
        notes.append(f"{len(lines) - len(keep)} of {len(lines)} sampled lines left out: {dropped}; "
                     f"{held_keys(lines)}")
    if kind.usable is not None:
        usable = [line for line in keep if kind.usable(line)]
        if len(usable) < len(keep):
            notes.append(f"{len(keep) - len(usable)} of {len(lines)} sampled lines left out: {kind.unusable_text}")
        keep = usable
    return keep, notes


def _controls(kind: Kind, line: AuditLine, form: str) -> tuple[ProbeResponse, ProbeResponse]:
    stated = line.with_form(form)
    correct = (kind.correct or (lambda s: ProbeResponse(s.say(s.answer), "correct")))(stated)
    wrong = (kind.wrong or (lambda s: ProbeResponse(s.say(s.wrong), "wrong")))(stated)
    return correct, wrong


async def audit(lines: Sequence[AuditLine], probes: Sequence[Probe], *, reward: str, kinds: Sequence[str],
                data: str = "", target: str = "rewards", url: str | None = None, token: str | None = None,
                margin: float = DEFAULT_MARGIN, concurrency: int = DEFAULT_CONCURRENCY,
                timeout: float = DEFAULT_TIMEOUT, settings: Any = None,
                on_result: Callable[[ReplayResult], None] | None = None,
                on_total: Callable[[int], None] | None = None,
                gold_keys: Sequence[str] = DEFAULT_REFERENCE_KEYS) -> AuditReport:
    """Score the controls, then every probe's responses for every line; one row per probe.

    `on_total` hears the number of requests still to come (once per pass), for a progress bar.
    `gold_keys` are the reference keys the reward reads its gold from (for the messages; `read_lines`
    takes the same keys to find it). An audit that measured nothing a verdict can rest on says why in
    `report.inconclusive`.
    """
    kind = primary_kind(kinds)
    report = AuditReport(reward, tuple(kinds), data, 0, None, margin)
    sampled = list(lines)
    lines, report.notes = usable_lines(sampled, kind, gold_keys)
    report.lines = len(lines)
    if not probes:
        report.inconclusive.append(
            f"no probe applies to reward kind(s) {', '.join(kinds)}: {kind.description}. Audit the reward that "
            "checks the answer (a composite that adds this one), name another kind with --kind, or name the "
            "probes to run with --probes")
        return report
    if not lines:
        report.inconclusive.append(_nothing_usable(sampled, kind, data, gold_keys))
        return report

    async with service_client(target=target, reward=reward, url=url, token=token, concurrency=concurrency,
                              timeout=timeout, settings=settings) as client:

        async def run(planned: list[tuple[AuditLine, str, ProbeResponse]]) -> list[Trial]:
            if on_total is not None:
                on_total(len(planned))
            cases = [_case(line, probe, response, reward) for line, probe, response in planned]
            results = await send_all(client, cases, reward=reward, concurrency=concurrency, on_result=on_result)
            return [_trial(line, probe, response, result)
                    for (line, probe, response), result in zip(planned, results, strict=True)]

        planned = [(line, name, response) for form in kind.forms for line in lines
                   for name, response in zip((CORRECT, WRONG), _controls(kind, line, form), strict=True)]
        control_trials = await run(planned)
        per_form = len(lines) * 2
        best, best_gap = 0, None
        for index in range(len(kind.forms)):
            chunk = control_trials[index * per_form:(index + 1) * per_form]
            correct = _mean([t.score for t in chunk if t.probe == CORRECT and t.score is not None]) or 0.0
            wrong = _mean([t.score for t in chunk if t.probe == WRONG and t.score is not None]) or 0.0
            if best_gap is None or correct - wrong > best_gap + 1e-9:
                best, best_gap = index, correct - wrong
        form = kind.forms[best]
        chosen = control_trials[best * per_form:(best + 1) * per_form]
        lines = [line.with_form(form) for line in lines]
        report.form = form
        report.controls = (kind.correct_text.format(form=repr(form.replace(ANSWER, "X"))), kind.wrong_text)
        correct_by_line = {t.line.id: t.score for t in chosen if t.probe == CORRECT and t.score is not None}
        wrong_by_line = {t.line.id: t.score for t in chosen if t.probe == WRONG and t.score is not None}
        report.correct_mean = _mean(list(correct_by_line.values()))
        report.wrong_mean = _mean(list(wrong_by_line.values()))
        planned = [(line, probe.id, response) for probe in probes for line in lines
                   for response in probe.responses(line)]
        probe_trials = await run(planned)

    report.trials = chosen + probe_trials
    report.notes.extend(_error_notes(report.trials))
    report.inconclusive.extend(_unmeasured(report, lines, gold_keys))
    for probe in probes:
        trials = [t for t in probe_trials if t.probe == probe.id]
        if trials:
            report.rows.append(_row(probe, trials, correct_by_line, wrong_by_line, margin))
    wrong_default = report.wrong_mean or 0.0
    examples = [Example(t, t.score - wrong_by_line.get(t.line.id, wrong_default)) for t in probe_trials
                if t.score is not None and t.score > wrong_by_line.get(t.line.id, wrong_default) + margin]
    examples.sort(key=lambda e: -e.above_wrong)
    report.worst = _spread(examples, WORST_SHOWN)
    return report


def _nothing_usable(sampled: Sequence[AuditLine], kind: Kind, data: str, gold_keys: Sequence[str]) -> str:
    """Why no sampled line could be audited, and where the values must go."""
    count = f"none of the {len(sampled)} sampled lines of {data or 'the data'}"
    if kind.name == "tool_calls":
        return (f"{count} holds expected tool calls, so no line was audited: put them {TOOL_CALLS_PLACES}; "
                f"{held_keys(sampled)}")
    return (f"{count} has a gold answer where the reward looks for it, so no line was audited: the reward reads "
            f"{gold_places(gold_keys)}, and {held_keys(sampled)}. Put the gold under one of those keys, or tell the "
            "reward where it is: `reference_keys=[\"KEY\"]` on its decorator, or "
            "`rewardkit.variant(REWARD, NAME, reference_keys=\"KEY\")`")


# What most often leaves a response unscored, and what to do about it.
_ERROR_FIXES = {
    "HTTP_422": "the service refused the requests built from these lines (a grouped reward, which ranks one "
                "prompt's responses together, cannot be audited one response per request: audit the single reward "
                "it ranks with)",
    MISSING_REFERENCE: "the reward found no gold where it looks for it: tell it where the lines keep it "
                         "(`reference_keys=`)",
    TIMEOUT: "the reward ran past its timeout: give it longer (its `timeout=`, or --timeout for the requests)",
}


def _unmeasured(report: AuditReport, lines: Sequence[AuditLine], gold_keys: Sequence[str]) -> list[str]:
    """Why the verdicts cannot be trusted once everything ran: controls never scored or not apart, mostly errors."""
    found = []
    codes = sorted({t.error for t in report.trials if t.error is not None})
    fix = "".join(f"; {_ERROR_FIXES[c]}" for c in codes if c in _ERROR_FIXES)
    if report.correct_mean is None:
        found.append(f"the known-correct control was scored on none of the {len(lines)} lines ({', '.join(codes)}), "
                     f"so nothing was measured against it; the notes give each error's first reason{fix}")
        fix = ""  # said once
    elif report.wrong_mean is not None and report.correct_mean - report.wrong_mean <= report.margin:
        found.append(
            f"the controls do not separate: known-correct mean {_shown(report.correct_mean)}, known-wrong mean "
            f"{_shown(report.wrong_mean)} (margin {report.margin:g}), so no probe can be judged against them. The "
            f"reward reads {gold_places(gold_keys)} and {held_keys(lines)}: either it does not find the gold there, "
            "it needs another kind (--kind), or it credits every answer alike")
    if report.errors > MOSTLY_ERRORS * report.responses:
        found.append(f"{report.errors} of {report.responses} responses were not scored ({', '.join(codes)}): the "
                     f"audit measured the failures, not the reward{fix}")
    return found


def _error_notes(trials: Sequence[Trial]) -> list[str]:
    """One note per error code: how many responses were not scored, and the first one's reason."""
    first: dict[str, Trial] = {}
    counts: dict[str, int] = {}
    for t in trials:
        if t.error is not None:
            first.setdefault(t.error, t)
            counts[t.error] = counts.get(t.error, 0) + 1
    return [f"{counts[code]} responses not scored ({code}), e.g. {t.line.id} {t.probe}/{t.response.variant}: "
            f"{(t.reason or 'no reason given')[:200]}" for code, t in first.items()]


def _spread(examples: Sequence[Example], count: int) -> list[Example]:
    """The worst examples: one per probe first, then one per variant, so one trick does not fill the list."""
    chosen: list[Example] = []
    for key in (lambda e: e.trial.probe, lambda e: (e.trial.probe, e.trial.response.variant), id):
        seen = {key(e) for e in chosen}
        for example in examples:
            if len(chosen) < count and key(example) not in seen and example not in chosen:
                chosen.append(example)
                seen.add(key(example))
    return chosen
