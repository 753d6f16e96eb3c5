"""The steps from a parsed body to a rendered answer, in any registered contract.

The scoring routes, the SDK processors of rewardkit.dashscope and the AWS
Lambda handler (`answer`) take the same steps, so they answer alike.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from .._engine.inline import Engine
from .._engine.pipeline import evaluate
from .._errors import EngineBusy
from .._outcome import Outcome
from .._registry import AnySpec
from ..contracts import Contract, ContractError, Parsed, registered
from . import logs as _logs
from .http import RETRY_SOON, HTTPProblem
from .trace import Tracing

log = logging.getLogger("rewardkit")


def _misrouted(contract: Contract, spec: AnySpec, raw: Any) -> HTTPProblem | None:
    """A 422 that names the right route, for a body of another contract posted to this one's route."""
    for other in registered():
        if other is not contract and other.looks_like(raw) and not contract.looks_like(raw):
            return HTTPProblem(422, f"this is a {other.title} body, posted to a {contract.title} route: post it to "
                               f"{other.route.format(name=spec.name)}")
    return None


def _log_failures(spec: AnySpec, outcomes: list[Outcome]) -> None:
    for index, outcome in enumerate(outcomes):
        if outcome.failure is not None:
            how = "fallback score used" if outcome.score is not None else "no score"
            log.warning("reward %s failed on output %d (%s, %s): %s", spec.name, index, outcome.failure.code, how,
                        outcome.failure.message,
                        extra={"fields": {"reward": spec.name, "error_code": outcome.failure.code}})


class RangeWatch:
    """Scores outside the range a contract expects: each one counted, the first of each reward logged.

    They are sent as the reward gave them (a platform applies its own rule: Vertex clips); a reward
    that must never leave its range declares `score_range=` and such a score fails instead."""

    def __init__(self, count: Callable[[str, str], None]) -> None:
        self._count = count
        self._logged: set[tuple[str, str]] = set()

    def check(self, contract: Contract, spec: AnySpec, outcomes: list[Outcome]) -> None:
        bounds = contract.score_range
        if bounds is None:
            return
        for outcome in outcomes:
            if outcome.score is None or bounds[0] <= outcome.score.value <= bounds[1]:
                continue
            self._count(spec.name, contract.name)
            if (spec.name, contract.name) not in self._logged:
                self._logged.add((spec.name, contract.name))
                self._log(contract, spec, outcome.score.value, bounds)

    @staticmethod
    def _log(contract: Contract, spec: AnySpec, value: float, bounds: tuple[float, float]) -> None:
        note = f"; {contract.score_range_note}" if contract.score_range_note else ""
        log.warning("reward %s returned %r, outside [%g, %g], the range the %s contract expects: it is sent as it "
                    "is%s. Fix the reward's scale, or declare score_range=(low, high) on it to have such a score "
                    "refused (INVALID_SCORE). Logged once per reward; rewardkit_scores_out_of_range_total counts "
                    "each", spec.name, value, bounds[0], bounds[1], contract.title, note,
                    extra={"fields": {"reward": spec.name, "contract": contract.name, "score": value}})


def read_request(contract: Contract, spec: AnySpec, raw: Any) -> Parsed:
    """A parsed body read by its contract, with the request's ids added to the logging context.
    Refusals raise HTTPProblem."""
    try:
        parsed = contract.parse(raw)
    except ContractError as exc:
        raise _misrouted(contract, spec, raw) or HTTPProblem(exc.status, exc.message, exc.detail) from None
    _logs.set_context({**_logs.current_context(), **parsed.log_fields})
    if spec.grouped and not parsed.group:
        raise HTTPProblem(422, contract.refuse_grouped.format(name=spec.name))
    return parsed


def outcome_label(outcomes: list[Outcome]) -> str:
    """The `outcome` of a scored request, as rewardkit_requests_total and the spans name it."""
    if any(o.score is None for o in outcomes):
        return "failed"
    return "fallback" if any(o.failure is not None for o in outcomes) else "success"


def too_busy(exc: EngineBusy) -> HTTPProblem:
    return HTTPProblem(503, f"too busy: {exc}", headers=RETRY_SOON)


def render_answer(contract: Contract, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
    """HTTP status and body for the outcomes; failures are logged."""
    _log_failures(spec, outcomes)
    return contract.render(spec, outcomes, parsed)


async def answer(contract: Contract, spec: AnySpec, raw: Any, engine: Engine,
                 tracing: Tracing | None = None) -> tuple[int, Any, list[Outcome]]:
    """A scoring request once its body is parsed: validate, build samples, evaluate, render.

    The scoring routes take the same steps (with client disconnects on top).
    Refusals raise HTTPProblem. With `tracing`, the call and its reward call are spans.
    """
    span = None if tracing is None else tracing.call(spec.name, contract.name)
    status, outcome, ids = 500, "error", {}
    try:
        parsed = read_request(contract, spec, raw)
        ids = dict(parsed.log_fields)
        if span is not None:
            span.reward_started(spec.name, contract.name, len(parsed.samples))
        try:
            outcomes = await evaluate(spec, parsed.samples, engine)
        except EngineBusy as exc:
            raise too_busy(exc) from None
        outcome = outcome_label(outcomes)
        if span is not None:
            span.reward_finished(outcomes, outcome)
        status, body = render_answer(contract, spec, outcomes, parsed)
        return status, body, outcomes
    except HTTPProblem as exc:
        status, outcome = exc.status, "refused"
        raise
    finally:
        if span is not None:
            span.finish(spec.name, contract.name, outcome, status, ids)
