"""The FastAPI app: routes wired to contract adapters, the pipeline and the registry."""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Union

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter

from . import _dashscope as dashscope
from . import _logs
from . import _openapi as openapi
from . import _vertex as vertex
from ._auth import BearerAuth
from ._engine import Engine, InlineEngine, ProcessEngine
from ._errors import EngineBusy, RewardkitError, UnknownRewardError
from ._http import ErrorResponse, HTTPProblem, read_json, unless_disconnected, validate
from ._invoke import Outcome
from ._loader import DEFAULT_TARGET, load_registry
from ._metrics import CONTENT_TYPE, Metrics
from ._pipeline import evaluate
from ._registry import AnySpec, CompositeSpec, Registry
from ._sample import Sample
from ._settings import Settings, load_settings

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
    union_tags=("reward", "group_reward"),
)

# The `outcome` label of rewardkit_requests_total for requests refused before scoring.
_REFUSED = {400: "invalid", 413: "invalid", 422: "invalid", 404: "unknown_reward", 499: "disconnected", 503: "busy"}


def _outcome_label(outcomes: list[Outcome]) -> str:
    if any(o.score is None for o in outcomes):
        return "failed"
    return "fallback" if any(o.failure is not None for o in outcomes) else "success"


def _describe(spec: AnySpec) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "grouped": spec.grouped,
        "parser": spec.parser.name if spec.parser else None,
        "weight": spec.weight,
        "fallback": spec.fallback,
        "doc": spec.doc,
        "routes": {"vertex": f"/rewards/{spec.name}", "dashscope": f"/rewards/{spec.name}/api/v1"},
    }
    if isinstance(spec, CompositeSpec):
        info["rule"] = spec.rule
        info["on_component_error"] = spec.on_component_error
        info["components"] = [{"name": c.spec.name, "weight": c.weight} for c in spec.components]
    else:
        info["timeout"] = spec.timeout
        info["inputs"] = list(spec.inputs)
        if spec.options:
            info["options"] = {k: repr(v) for k, v in spec.options.items()}
    return info


def default_reward(registry: Registry, name: str | None) -> str | None:
    """The reward behind `POST /` and `POST /api/v1`: the named one, else the only top-level one."""
    if name:
        if name not in registry:
            raise UnknownRewardError(name, registry.names())
        return name
    used = {c.spec.name for s in registry if isinstance(s, CompositeSpec) for c in s.components}
    roots = [s.name for s in registry if s.name not in used]
    return roots[0] if len(roots) == 1 else None


def _log_failures(spec: AnySpec, outcomes: list[Outcome]) -> None:
    for index, outcome in enumerate(outcomes):
        if outcome.failure is not None:
            how = "fallback score used" if outcome.score is not None else "no score"
            log.warning("reward %s failed on output %d (%s, %s): %s", spec.name, index, outcome.failure.code, how,
                        outcome.failure.message, extra={"fields": {"reward": spec.name, "error_code": outcome.failure.code}})


async def answer(
    contract: Contract,
    spec: AnySpec,
    raw: Any,
    engine: Engine,
    guard: Callable[[Awaitable[list[Outcome]]], Awaitable[list[Outcome]]] | None = None,
) -> tuple[int, dict[str, Any], list[Outcome]]:
    """A scoring route once its body is read: validate, build samples, evaluate, render.

    The routes and rewardkit.dashscope's SDK processors both answer through
    this, so they answer alike. `guard` wraps the scoring (the routes cancel
    it when the client goes away). Refusals raise HTTPProblem.
    """
    body = validate(contract.adapter, raw, contract.title, contract.union_tags)
    _logs.set_context({**_logs.current_context(), **contract.log_fields(body)})
    group = contract.is_group(body)
    if spec.grouped and not group:
        raise HTTPProblem(422, contract.refuse_grouped.format(name=spec.name))
    scoring = evaluate(spec, contract.to_samples(body, raw), engine)
    try:
        outcomes = await (guard(scoring) if guard else scoring)
    except EngineBusy as exc:
        raise HTTPProblem(503, f"too busy: {exc}", headers={"Retry-After": "1"}) from None
    _log_failures(spec, outcomes)
    status, content = contract.render(spec, outcomes, group)
    return status, content, outcomes


def _request_fields(request: Request, project: str | None) -> dict[str, Any]:
    fields = _logs.trace_fields(request.headers.get("x-cloud-trace-context"), project)
    fc_request = request.headers.get("x-fc-request-id")
    if fc_request:
        fields["fc_request_id"] = fc_request
    return fields


def _access_line(request: Request, status: int, seconds: float, fields: dict[str, Any]) -> None:
    http = {"requestMethod": request.method, "requestUrl": request.url.path, "status": status,
            "latency": f"{seconds:.6f}s", "userAgent": request.headers.get("user-agent", ""),
            "remoteIp": request.client.host if request.client else ""}
    log.info("%s %s %d %s %.1f ms", request.method, request.url.path, status, fields.get("outcome", ""),
             seconds * 1000, extra={"fields": {"httpRequest": http, **fields}})


# The scoring routes; the ones without {name} score with the default reward.
SCORING_ROUTES = (("/", VERTEX), ("/api/v1", DASHSCOPE), ("/rewards/{name}", VERTEX), ("/rewards/{name}/api/v1", DASHSCOPE))


class ScoringEndpoint:
    """A scoring route as a plain ASGI app.

    These routes read and validate their bodies themselves, so FastAPI's
    per-route machinery (dependency solving, response serialization) would
    only add cost: about a third of a trivial reward's request
    (bench/serve_bench.py). Middleware and exception handlers still apply;
    `_openapi` documents the routes.
    """

    def __init__(self, handle: Callable[[Request, Contract, str | None], Awaitable[Response]], contract: Contract,
                 default: str | None) -> None:
        self.handle = handle
        self.contract = contract
        self.default = default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope["path_params"].get("name", self.default)
        response = await self.handle(Request(scope, receive), self.contract, name)
        await response(scope, receive, send)


def _engine_for(target: Union[str, Registry], registry: Registry, settings: Settings) -> Engine:
    if isinstance(target, str) and settings.worker_count > 0:
        return ProcessEngine(target, registry, settings)
    return InlineEngine(registry, timeout=settings.timeout)


def create_app(
    target: Union[str, Registry] = DEFAULT_TARGET,
    *,
    reward: str | None = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
    access_log: bool = True,
) -> FastAPI:
    """Build the app serving `target` (a module path, a .py file, or a Registry).

    `reward` names the default reward (also `REWARDKIT_REWARD`); `settings`
    defaults to the environment's (`rewardkit._settings.load_settings`).
    Sync rewards run in worker processes unless `settings.workers == 0` or
    the target is a Registry object (workers re-import the target by name).
    Loading problems (bad target, duplicate names, bad signatures) raise
    here; a failing reward setup fails the app's startup.
    """
    registry = load_registry(target) if isinstance(target, str) else target
    default = default_reward(registry, reward or os.environ.get("REWARDKIT_REWARD") or None)
    settings = settings or load_settings()
    engine = engine or _engine_for(target, registry, settings)
    metrics = Metrics()
    if isinstance(engine, ProcessEngine):
        engine.on_restart = lambda kind: metrics.restarts.labels(kind).inc()
        metrics.watch_engine(lambda: engine.waiting, lambda: engine.running, lambda: engine.size)
    project = _logs.google_project()
    max_body = settings.max_body_bytes

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await engine.start()
        except RewardkitError as exc:
            log.error("startup failed: %s", exc)
            raise
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(
        title="rewardkit",
        description="Reward functions served over the Vertex AI (cloudRunRewardScorer) and "
        "DashScope (RewardInput / GroupRewardInput) contracts.",
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.engine = engine
    app.state.default_reward = default
    app.state.settings = settings
    app.state.metrics = metrics
    if settings.auth_tokens:
        auth_failures = metrics.requests.labels("(any)", "(any)", "unauthorized")
        app.add_middleware(BearerAuth, tokens=settings.auth_tokens, on_reject=auth_failures.inc)

    def lookup(name: str | None) -> AnySpec:
        if name is None:
            names = registry.names()
            raise HTTPProblem(404, "several rewards are registered and none is the default: post to "
                              f"/rewards/NAME or start with --reward NAME. Registered: {', '.join(names)}",
                              {"rewards": names})
        try:
            return registry.get(name)
        except UnknownRewardError as exc:
            raise HTTPProblem(404, str(exc), {"rewards": exc.known}) from None

    async def score(request: Request, contract: Contract, spec: AnySpec, raw: Any) -> tuple[int, dict[str, Any], str]:
        status, content, outcomes = await answer(contract, spec, raw, engine,
                                                 guard=lambda scoring: unless_disconnected(request, scoring))
        metrics.outcomes(outcomes)
        return status, content, _outcome_label(outcomes)

    async def handle(request: Request, contract: Contract, name: str | None) -> JSONResponse:
        started = time.perf_counter()
        context = _logs.set_context(_request_fields(request, project))
        label, status, outcome = "(unknown)", 500, "error"
        metrics.in_flight.inc()
        try:
            spec = lookup(name)
            label = spec.name
            status, content, outcome = await score(request, contract, spec, await read_json(request, max_body))
            return JSONResponse(content, status)
        except HTTPProblem as exc:
            status, outcome = exc.status, _REFUSED.get(exc.status, "refused")
            raise
        finally:
            seconds = time.perf_counter() - started
            metrics.in_flight.dec()
            metrics.request(label, contract.name, outcome, seconds)
            if access_log:
                _access_line(request, status, seconds, {"reward": label, "contract": contract.name, "outcome": outcome})
            _logs.reset_context(context)

    @app.exception_handler(HTTPProblem)
    async def problem(_request: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse(ErrorResponse(message=exc.message, detail=exc.detail).model_dump(), exc.status, exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error while serving a request")
        return JSONResponse({"message": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    @app.get("/health", summary="Liveness and readiness")
    async def health() -> dict[str, Any]:
        info: dict[str, Any] = {"status": "ok", "rewards": len(registry), "default_reward": default}
        if isinstance(engine, ProcessEngine):
            info["workers"] = {"size": engine.size, "restarts": engine.restarts,
                               "running": engine.running, "waiting": engine.waiting}
        return info

    @app.post("/initialize", summary="Function Compute lifecycle hook: the instance is ready once this answers")
    async def initialize() -> dict[str, str]:
        return {"status": "ok"}  # the workers started with the app: nothing is left to do

    @app.get("/pre-stop", summary="Function Compute lifecycle hook: the instance is about to stop")
    async def pre_stop() -> dict[str, str]:
        log.info("pre-stop hook: the instance is about to stop; in-flight requests finish on SIGTERM")
        return {"status": "ok"}

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/rewards", summary="Registered rewards")
    async def rewards() -> dict[str, Any]:
        return {"default": default, "rewards": [_describe(spec) for spec in registry]}

    for path, contract in SCORING_ROUTES:
        app.router.add_route(path, ScoringEndpoint(handle, contract, default), methods=["POST"])
    openapi.install(app, [(path, contract.name) for path, contract in SCORING_ROUTES])
    return app
