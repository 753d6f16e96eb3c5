"""The steps from a parsed body to a rendered answer, in any registered contract.

The scoring routes, the SDK processors of rewardkit.dashscope and the AWS
Lambda handler (`answer`) take the same steps, so they answer alike.
"""

from __future__ import annotations

import logging
from typing import Any

from .._engine.inline import Engine
from .._engine.pipeline import evaluate
from .._errors import EngineBusy
from .._outcome import Outcome
from .._registry import AnySpec
from ..contracts import Contract, ContractError, Parsed, registered
from . import logs as _logs
from .http import RETRY_SOON, HTTPProblem

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


def too_busy(exc: EngineBusy) -> HTTPProblem:
    return HTTPProblem(503, f"too busy: {exc}", headers=RETRY_SOON)


def render_answer(contract: Contract, spec: AnySpec, outcomes: list[Outcome], parsed: Parsed) -> tuple[int, Any]:
    """HTTP status and body for the outcomes; failures are logged."""
    _log_failures(spec, outcomes)
    return contract.render(spec, outcomes, parsed)


async def answer(contract: Contract, spec: AnySpec, raw: Any, engine: Engine) -> tuple[int, Any, list[Outcome]]:
    """A scoring request once its body is parsed: validate, build samples, evaluate, render.

    The scoring routes take the same steps (with client disconnects on top).
    Refusals raise HTTPProblem.
    """
    parsed = read_request(contract, spec, raw)
    try:
        outcomes = await evaluate(spec, parsed.samples, engine)
    except EngineBusy as exc:
        raise too_busy(exc) from None
    return (*render_answer(contract, spec, outcomes, parsed), outcomes)
