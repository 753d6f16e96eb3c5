"""Pointwise judges: one response, one verdict. `judge_reward` (Vertex autorater parity) and
`equivalence_judge` (a reference-guided second opinion behind a rule-based reward)."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rewardkit import RegistrationError, RewardSpec, Sample, Score, call, reward
from rewardkit.clients import AsyncJudge, JudgeUnparseable
from rewardkit.clients.judge import Completion
from rewardkit.registry import DEFAULT_REFERENCE_KEYS, NATIVE_TWIN, spec_of

from . import _panel
from ._defences import trivial, without_reasoning
from ._judging import Asker, JudgeOptions, all_of, connect, gold, quoted
from ._probabilities import TOP_LOGPROBS, weighted
from ._prompts import (
    PLACEHOLDER,
    ShowMedia,
    check_show_media,
    check_template,
    fill_references,
    messages,
    render,
    seeing,
    shown,
)
from ._verdicts import MatchScore, NumberScore, Scorer, extractor, scorer

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

EQUIVALENCE_PROMPT = """\
Decide whether a candidate's final answer to a question is equivalent to the reference answer.

Question:
{{prompt}}

Reference answer:
{{references.answer}}

Candidate's final answer:
{{response}}

Equivalent means the same value or meaning in any form (0.5 and 1/2, "x = 2" and "2", "Paris" and
"paris, France" when the question asks for a city), not merely close or partly right. Think briefly,
then end with one line: "Verdict: EQUIVALENT" or "Verdict: DIFFERENT".
"""
EQUIVALENCE_PARSE = r"(?i)verdict\s*[:：]\s*\**\s*(EQUIVALENT|DIFFERENT)"


def judged_text(sample: Sample, keep_thinking: bool) -> str:
    """What the judge sees of a response: the answer alone, unless the reward asks for the reasoning too."""
    if keep_thinking:
        return f"<think>{sample.thinking}</think>\n{sample.response}" if sample.thinking else sample.response
    return without_reasoning(sample.response)


def _scored(reply: str, extract: Callable[[str], str], scoring: Scorer, on_unparseable: float | None) -> float:
    try:
        return scoring(extract(reply))
    except JudgeUnparseable as exc:
        if on_unparseable is None:
            raise JudgeUnparseable(f"{exc.detail}; {quoted(reply)}") from None
        return on_unparseable


@dataclass(frozen=True)
class JudgeDescription:
    """What a `judge_reward` asks and how it reads the reply: what a native Vertex autorater needs."""

    prompt: str
    parse: str
    score: Scorer
    model: str | None
    samples: int
    panel: int = 0
    probabilities: bool = False


DESCRIPTION_ATTRIBUTE = "__rewardkit_judge__"


def _expected_for(scoring: Scorer, reward: str) -> Callable[[Sample], Scorer]:
    """The scorer for a sample: a MatchScore's `{{references.KEY}}` filled from it (Vertex's `expression`)."""
    if not isinstance(scoring, MatchScore) or not PLACEHOLDER.search(scoring.expected):
        return lambda sample: scoring
    for match in PLACEHOLDER.finditer(scoring.expected):
        if not match.group(1).startswith("references."):
            raise RegistrationError(f"judge reward {reward!r}: MatchScore's expected text may only use "
                                    f"{{{{references.KEY}}}}, not {{{{{match.group(1)}}}}}")
    return lambda sample: dataclasses.replace(scoring, expected=fill_references(scoring.expected, sample, reward))


def _native(judged: Callable[..., Any], model: str) -> dict[str, Any]:
    from ..vertex import vertex_autorater_config  # it reads this module's JudgeDescription

    return vertex_autorater_config(judged, model=model)


def _named(fn: Callable[..., Any], name: str, doc: str) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _verdict(reply: Completion, extract: Callable[[str], str], scoring: Scorer, on_unparseable: float | None,
             parse: str, probabilities: bool) -> tuple[float, str, str]:
    """(score, the reply, how it was read): G-Eval's weighted mean when asked and possible, else the parse."""
    if probabilities:
        found = weighted(reply.logprobs, reply.text, parse, scoring.tokens(), scoring.key)
        if found.value is not None:
            return found.value, reply.text, found.reason
        return _scored(reply.text, extract, scoring, on_unparseable), reply.text, found.reason
    return _scored(reply.text, extract, scoring, on_unparseable), reply.text, ""


def _reason(votes: list[_panel.Vote], everyone: list[_panel.Vote], aggregate: str) -> str:
    """One verdict: the reply (and how it was read); several: the aggregate, each, and who failed."""
    last = votes[-1]
    said = quoted(last.reply) + (f" ({last.how})" if last.how else "")
    if len(everyone) == 1:
        return said
    shown = ", ".join(f"{v.value:g}" for v in votes if v.value is not None)
    failed = [f"{v.label} failed: {v.error.detail if v.error else ''}" for v in everyone if v.error is not None]
    return f"{aggregate} of {len(votes)} verdicts ({shown}); last {said}" + "".join(f"; {f}" for f in failed)


def judge_reward(
    name: str,
    *,
    prompt: str,
    parse: str = "identity",
    score: Scorer | tuple[float, float] | str | Mapping[str, float] = NumberScore(),
    samples: int = 1,
    system: str | None = None,
    on_unparseable: float | None = None,
    keep_thinking: bool = False,
    probabilities: bool = False,
    panel: Sequence[str | AsyncJudge] | None = None,
    aggregate: _panel.Aggregate = "mean",
    quorum: int | None = None,
    show_media: ShowMedia = "inline",
    **options: Unpack[JudgeOptions],
) -> Callable[..., Any]:
    """A pointwise LLM-judge reward, registered as `name` in the module that assigns it.

    `prompt` takes Vertex's autorater placeholders: {{prompt}}, {{response}} (fenced),
    {{system_instruction}}, {{references.KEY}}. The reply is read like Vertex's
    `autoraterResponseParseConfig` (`parse`: "identity" or a regex whose last match wins) and
    scored by `score`: NumberScore(low, high, to=(0, 1)) (or `(low, high)`), or
    MatchScore(expected, correct, wrong) (or the expected string; it may use {{references.KEY}},
    like Vertex's exact-match `expression`), or LabelScore({label: score}) (or the mapping itself);
    an undeclared label is JUDGE_UNPARSEABLE. `samples=N` asks N times and aggregates.
    `probabilities=True` asks for token log-probabilities and scores G-Eval's probability-weighted
    mean over the scale's one-token answers, the parse being the fallback (said in the reason).
    `panel=[model, ...]` (names sharing this reward's connection options, or AsyncJudge clients)
    asks each; `aggregate` ("mean", "median", "majority") combines the voters' verdicts (panel
    members, else draws), each member's verdict a metric `judge.<member>`; fewer than `quorum`
    verdicts (default: a majority of the panel; every draw without one) fail the call.
    A reply that does not parse fails the call as JUDGE_UNPARSEABLE unless
    `on_unparseable` gives it a score; no verdict at all (after retries, within 80 % of `timeout`)
    is JUDGE_ERROR. Empty, punctuation-only and reasoning-opener-only responses score the minimum
    without asking. `model`, `base_url` and the key default to REWARDKIT_JUDGE_MODEL,
    REWARDKIT_JUDGE_BASE_URL / OPENAI_BASE_URL and $`api_key_env`; pass `judge=` to share one
    client (and its concurrency cap) between rewards.
    """
    check_template(prompt, name)
    extract, scoring = extractor(parse, name), scorer(score, name)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise RegistrationError(f"judge reward {name!r}: samples must be an integer >= 1, got {samples!r}")
    if probabilities and not scoring.tokens():
        raise RegistrationError(f"judge reward {name!r}: probabilities=True needs one-token answers to weigh: a "
                                "NumberScore with whole-number bounds, a LabelScore, or a MatchScore with others=")
    scoring_of = _expected_for(scoring, name)
    check_show_media(show_media, name)
    client, registration = connect(name, options)
    judges = _panel.members(name, panel, client) if panel is not None else [_panel.Member(name, client)]
    voters = len(judges) if panel is not None else samples
    quorum = _panel.check(name, aggregate, quorum if quorum is not None or panel is None else voters // 2 + 1, voters)
    params = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if probabilities else None

    async def judged(sample: Sample) -> Score:
        response = judged_text(sample, keep_thinking)
        unfit = trivial(response)
        if unfit:
            return Score(scoring.minimum, f"{unfit}: the minimum, without asking the judge", {"judge_calls": 0.0})
        chat = messages(render(prompt, sample, response, name), system, shown(sample.media, show_media),
                        urls=show_media == "urls")
        asker = Asker(client, registration["timeout"])
        scoring_now = scoring_of(sample)

        async def ballot(member: _panel.Member, draws: range) -> tuple[float, str, str]:
            replies = await all_of([asker.reply(chat, draw, member.judge, params, member.model) for draw in draws])
            read = [_verdict(r, extract, scoring_now, on_unparseable, parse, probabilities) for r in replies]
            return sum(v for v, _, _ in read) / len(read), read[-1][1], read[-1][2]

        if panel is not None:
            labels = [m.label for m in judges]
            ballots = [ballot(m, range(samples)) for m in judges]
        else:
            labels = [f"draw {d}" for d in range(samples)]
            ballots = [ballot(judges[0], range(d, d + 1)) for d in range(samples)]
        votes = await _panel.poll(labels, ballots)
        value, given = _panel.tally(votes, aggregate, quorum)
        metrics = asker.costs.metrics()
        if panel is not None:
            metrics.update({f"judge.{v.label}": v.value for v in given if v.value is not None},
                           judge_voters=float(len(given)), judge_failed=float(len(votes) - len(given)))
        if probabilities:
            metrics["judge_weighted"] = float(sum(v.how.startswith("probability") for v in given))
        return Score(value, _reason(given, votes, aggregate), metrics)

    served = seeing(judged, show_media)
    _named(served, name, f"LLM judge {name!r}: {' '.join(prompt.split())[:200]}")
    setattr(served, DESCRIPTION_ATTRIBUTE, JudgeDescription(prompt, parse, scoring, options.get("model"), samples,
                                                            len(judges) if panel is not None else 0, probabilities))
    setattr(served, NATIVE_TWIN, lambda model: _native(served, model))
    return reward(served, name=name, **registration)


def _rule_spec(rule: Any, name: str) -> RewardSpec | None:
    if rule is None:
        return None
    spec = spec_of(rule)
    if not isinstance(spec, RewardSpec) or spec.grouped or spec.is_async:
        raise RegistrationError(f"equivalence judge {name!r}: rule must be a synchronous single reward "
                                f"(like math_accuracy), got {spec.name!r}")
    return spec


async def _rule_verdict(spec: RewardSpec, sample: Sample) -> tuple[float, str | None, str]:
    """(score, the answer it read or None, its reason); a rule that fails fails the call with its message."""
    outcome = await asyncio.to_thread(call, spec, sample)
    if outcome.score is None:
        failure = outcome.failure
        raise ValueError(f"rule {spec.name!r} failed: {failure.code if failure else '?'}: "
                         f"{failure.message if failure else ''}")
    parsed_ok = outcome.score.metrics.get("parsed_ok", 1.0) > 0
    answer = outcome.parsed if spec.parser is not None and parsed_ok else None
    return outcome.score.value, answer, outcome.score.reason or ""


def equivalence_judge(
    name: str,
    *,
    rule: Any = None,
    passing: float = 1.0,
    recovered: float = 1.0,
    prompt: str = EQUIVALENCE_PROMPT,
    reference_keys: Sequence[str] | None = None,
    **options: Unpack[JudgeOptions],
) -> Callable[..., Any]:
    """A reference-guided equivalence judge; behind `rule`, a second opinion on the rule's "no".

    With `rule` (a sync single reward such as math_accuracy): the rule scores first; a score of
    at least `passing` stands and the judge is not asked. Otherwise the judge compares the
    answer the rule's parser read (or the whole response, for a rule without a parser) with the
    gold answer, and "EQUIVALENT" raises the score to `recovered`. A response the rule's parser
    finds no answer in keeps the rule's score: the judge never grades what the rule could not read.
    Without `rule`, the score is `recovered` or 0.
    """
    check_template(prompt, name, needs=("response", "references.answer"))
    rule_spec = _rule_spec(rule, name)
    keys = tuple(reference_keys) if reference_keys else (
        rule_spec.reference_keys if rule_spec else DEFAULT_REFERENCE_KEYS)
    extract = extractor(EQUIVALENCE_PARSE, name)
    client, registration = connect(name, options)

    async def equivalent(sample: Sample) -> Score:
        expected = gold(sample, keys, name)
        rule_score, answer, because = 0.0, judged_text(sample, False), ""
        if rule_spec is not None:
            rule_score, ruled, because = await _rule_verdict(rule_spec, sample)
            if rule_score >= passing or ruled is None:
                return Score(rule_score, f"rule {rule_spec.name}: {because}", {"rule": rule_score, "judge_calls": 0.0})
            answer = ruled
        unfit = trivial(answer)
        if unfit:
            return Score(rule_score, f"{unfit}: not judged", {"rule": rule_score, "judge_calls": 0.0})
        shown = dataclasses.replace(sample, references={**sample.references, "answer": expected})
        asker = Asker(client, registration["timeout"])
        reply = await asker.ask(messages(render(prompt, shown, answer, name)))
        verdict = _scored(reply, extract, MatchScore("EQUIVALENT", 1.0, 0.0, others=("DIFFERENT",)), None)
        value = max(rule_score, recovered * verdict)
        said = "judge: equivalent" if verdict else "judge: different"
        reason = f"{said}; {quoted(reply)}"
        if rule_spec:
            reason = f"rule {rule_spec.name}: {because}; {reason}"
        return Score(value, reason, {"rule": rule_score, "judge_equivalent": verdict, **asker.costs.metrics()})

    _named(equivalent, name, f"LLM equivalence judge {name!r}" + (f" behind {rule_spec.name}" if rule_spec else ""))
    return reward(equivalent, name=name, **registration, reference_keys=keys)
