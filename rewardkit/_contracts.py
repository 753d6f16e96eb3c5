"""The two wire contracts as the routes see them, and the steps from a parsed body to a rendered answer.

The scoring routes and rewardkit.dashscope's SDK processors (`answer`) take
the same steps, so they answer alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import TypeAdapter

from . import _dashscope as dashscope
from . import _logs
from . import _vertex as vertex
from ._engine import Engine
from ._errors import EngineBusy
from ._http import HTTPProblem, validate
from ._invoke import Outcome
from ._pipeline import evaluate
from ._registry import AnySpec
from ._sample import Sample

log = logging.getLogger("rewardkit")


@dataclass(frozen=True)
class Contract:
    """What the routes need to know of one platform's wire format; the adapter module does the work."""

    name: str
    title: str
    adapter: TypeAdapter
    to_samples: Callable[[Any, dict[str, Any]], list[Sample]]
    render: Callable[[AnySpec, list[Outcome], bool], tuple[int, dict[str, Any]]]
    log_fields: Callable[[Any], dict[str, Any]]
    is_group: Callable[[Any], bool]
    refuse_grouped: str
    route: str  # the named scoring route, `{name}` for the reward
    looks_like: Callable[[Any], bool]  # whether a body that failed another contract's validation is one of these
    union_tags: tuple[str, ...] = ()


VERTEX = Contract(
    name=vertex.PLATFORM,
    title="Vertex cloudRunRewardScorer",
    adapter=TypeAdapter(vertex.VertexRewardRequest),
    to_samples=vertex.to_samples,
    render=lambda spec, outcomes, group: vertex.render(spec, outcomes[0]),
    log_fields=vertex.log_fields,
    is_group=lambda body: False,
    refuse_grouped="reward {name!r} is grouped: it scores the responses of one prompt together, and Vertex "
    "sends one response per call. Serve it to DashScope group_reward requests instead.",
    route="/rewards/{name}",
    looks_like=lambda raw: isinstance(raw, dict) and ("example" in raw or isinstance(raw.get("response"), dict)),
)
DASHSCOPE = Contract(
    name=dashscope.PLATFORM,
    title="DashScope RewardInput/GroupRewardInput",
    adapter=TypeAdapter(dashscope.DashScopeRequest),
    to_samples=dashscope.to_samples,
    render=dashscope.render,
    log_fields=dashscope.log_fields,
    is_group=lambda body: isinstance(body, dashscope.GroupRewardInput),
    refuse_grouped="reward {name!r} is grouped: it needs a group_reward request (func_type 'group_reward' "
    "with agent_outputs), got func_type 'reward'",
    route="/rewards/{name}/api/v1",
    looks_like=lambda raw: isinstance(raw, dict) and bool({"func_type", "agent_output", "agent_outputs"} & raw.keys()),
    union_tags=("reward", "group_reward"),
)
CONTRACTS = (VERTEX, DASHSCOPE)


def _misrouted(contract: Contract, spec: AnySpec, raw: Any) -> HTTPProblem | None:
    """A 422 that names the right route, for a body of another contract posted to this one's route."""
    for other in CONTRACTS:
        if other is not contract and other.looks_like(raw) and not contract.looks_like(raw):
            return HTTPProblem(422, f"this is a {other.title} body, posted to a {contract.title} route: post it to "
                               f"{other.route.format(name=spec.name)}")
    return None


def _log_failures(spec: AnySpec, outcomes: list[Outcome]) -> None:
    for index, outcome in enumerate(outcomes):
        if outcome.failure is not None:
            how = "fallback score used" if outcome.score is not None else "no score"
            log.warning("reward %s failed on output %d (%s, %s): %s", spec.name, index, outcome.failure.code, how,
                        outcome.failure.message, extra={"fields": {"reward": spec.name, "error_code": outcome.failure.code}})


def read_request(contract: Contract, spec: AnySpec, raw: Any) -> tuple[list[Sample], bool]:
    """A parsed body's samples, and whether it is a group: validated against the contract, with the
    request's ids added to the logging context. Refusals raise HTTPProblem."""
    try:
        body = validate(contract.adapter, raw, contract.title, contract.union_tags)
    except HTTPProblem as exc:
        raise _misrouted(contract, spec, raw) or exc from None
    _logs.set_context({**_logs.current_context(), **contract.log_fields(body)})
    group = contract.is_group(body)
    if spec.grouped and not group:
        raise HTTPProblem(422, contract.refuse_grouped.format(name=spec.name))
    return contract.to_samples(body, raw), group


def too_busy(exc: EngineBusy) -> HTTPProblem:
    return HTTPProblem(503, f"too busy: {exc}", headers={"Retry-After": "1"})


def render_answer(contract: Contract, spec: AnySpec, outcomes: list[Outcome], group: bool) -> tuple[int, dict[str, Any]]:
    """HTTP status and body for the outcomes; failures are logged."""
    _log_failures(spec, outcomes)
    return contract.render(spec, outcomes, group)


async def answer(contract: Contract, spec: AnySpec, raw: Any, engine: Engine) -> tuple[int, dict[str, Any], list[Outcome]]:
    """A scoring request once its body is parsed: validate, build samples, evaluate, render.

    The scoring routes take the same steps (with client disconnects on top).
    Refusals raise HTTPProblem.
    """
    samples, group = read_request(contract, spec, raw)
    try:
        outcomes = await evaluate(spec, samples, engine)
    except EngineBusy as exc:
        raise too_busy(exc) from None
    return (*render_answer(contract, spec, outcomes, group), outcomes)
