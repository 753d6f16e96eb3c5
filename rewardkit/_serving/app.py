"""The app: the scoring routes, and FastAPI for the rest (health, metrics, reward list, OpenAPI)."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Union

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .._engine.inline import Engine, InlineEngine, contain_task_exits
from .._engine.pool import ProcessEngine
from .._errors import RewardkitError
from .._loader import DEFAULT_TARGET, load_registry
from .._options import describe as describe_options
from .._options import shown
from .._registry import AnySpec, CompositeSpec, Registry, default_reward, metric_keys
from .._settings import Settings, load_settings
from ..contracts import Contract, registered
from . import logs as _logs
from . import openapi
from .auth import BearerAuth
from .http import Receive, Scope, Send
from .loopwatch import LoopWatch, reward_codes
from .metrics import CONTENT_TYPE, Metrics
from .record import recorder_for
from .scoring import Routes, Scoring, route_path
from .trace import tracing_from_env

log = logging.getLogger("rewardkit")


class RewardkitApp(FastAPI):
    """FastAPI, with the scoring routes answered before its middleware stack and router.

    Those layers cost a trivial reward's request more than the reward itself
    (bench/serve_bench.py). Middleware added to the app with add_middleware
    still sees every request: then the scoring routes go the usual way, through
    the router, to the same handler. The app logs which path scoring takes when
    it starts (its lifespan), once the middleware is final: Starlette refuses
    add_middleware once the app has started (starlette/applications.py).
    """

    scoring: Scoring | None = None
    auth: BearerAuth | None = None

    @property
    def fast_path(self) -> bool:
        """Whether scoring requests skip FastAPI's middleware and router: only while no middleware is added."""
        return self.scoring is not None and not self.user_middleware

    def scoring_path(self) -> str:
        """Which path scoring requests take, as the start-up log says it."""
        if self.fast_path:
            return "scoring: the fast path, ahead of FastAPI's middleware and router"
        names = ", ".join(getattr(m.cls, "__name__", repr(m.cls)) for m in self.user_middleware)
        return (f"scoring: through the app's middleware ({names}) and FastAPI's router: the fast path is off while "
                "middleware is added (add_middleware), so that it sees every request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.auth is not None:
            await self.auth(scope, receive, send)  # it calls dispatch for the requests it lets through
        else:
            await self.dispatch(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self.fast_path:
            assert self.scoring is not None  # the fast path has scoring routes
            found = self.scoring.routes.match(route_path(scope))
            if found is not None:
                return await self.scoring(scope, receive, send, *found)
        await super().__call__(scope, receive, send)


def _routes(spec: AnySpec, contracts: tuple[Contract, ...]) -> dict[str, str]:
    return {contract.name: contract.route.format(name=spec.name) for contract in contracts}


def _first_line(doc: str | None, width: int = 100) -> str:
    line = (doc or "").strip().split("\n", 1)[0].strip()
    return line if len(line) <= width else line[: width - 3].rstrip() + "..."


def startup_lines(app: FastAPI, verbose: bool = False) -> list[str]:
    """What `rewardkit serve` logs once the app is built: the rewards, the default, the route patterns
    once, and one line per reward; `verbose` adds each reward's every route (as GET /rewards lists them)."""
    contracts: tuple[Contract, ...] = app.state.contracts
    registry: Registry = app.state.registry
    settings: Settings = app.state.settings
    default: str | None = app.state.default_reward
    defaults = ", ".join(c.default_route for c in contracts if c.default_route)
    if default is None:
        chosen = f"no default reward (--reward NAME serves one on POST {defaults})" if defaults else "no default reward"
    else:
        chosen = f"default reward {default} (POST {defaults})" if defaults else f"default reward {default}"
    lines = [f"rewards: {len(registry)} from {registry.source or 'the target'}; {chosen}; "
             f"{settings.worker_count} worker process(es), timeout {settings.timeout:g} s",
             "routes: " + ", ".join(f"POST {c.route} ({c.name})" for c in contracts)
             + ("" if verbose else "; every reward's routes: GET /rewards, or --verbose")]
    for spec in registry:
        doc = _first_line(spec.doc)
        lines.append(f"  {spec.name} ({spec.kind})" + (f": {doc}" if doc else ""))
        if verbose:
            lines.append("    " + ", ".join(f"POST {path} ({name})" for name, path in _routes(spec, contracts).items()))
    return lines


def _describe(spec: AnySpec, contracts: tuple[Contract, ...]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "grouped": spec.grouped,
        "parser": spec.parser.name if spec.parser else None,
        "weight": spec.weight,
        "fallback": spec.fallback,
        "doc": spec.doc,
        "routes": _routes(spec, contracts),
        "metrics": list(metric_keys(spec)),  # the flat keys its metrics take (the remote trainer adapters read them)
    }
    if isinstance(spec, CompositeSpec):
        info["rule"] = spec.rule
        info["on_component_error"] = spec.on_component_error
        info["components"] = [{"name": c.spec.name, "weight": c.weight} for c in spec.components]
    else:
        info["timeout"] = spec.timeout
        info["score_range"] = list(spec.score_range) if spec.score_range else None
        info["inputs"] = list(spec.inputs)
        declared = describe_options(spec)
        info["options"] = {o.name: shown(o.value) for o in declared}  # the values it runs with
        info["option_types"] = {o.name: o.as_json() for o in declared}  # as declared: type, default, bounds...
        info["requires_reference"] = bool(spec.required_gold)
    return info


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
    # After the target is loaded: a module of rewards may register a contract of its own.
    scoring = Scoring(registry, default, engine, metrics, Routes(registered()), max_body=settings.max_body_bytes,
                      max_group=settings.max_group, project=_logs.google_project(), access_log=access_log)
    recorder = scoring.recorder = recorder_for(settings)
    tracing = scoring.tracing = tracing_from_env()
    if recorder is not None:
        recorder.on_dropped, recorder.on_written = metrics.watch_recorder(lambda: recorder.waiting)

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        if isinstance(started, RewardkitApp):
            log.info("%s", started.scoring_path())
        try:
            await engine.start()
        except RewardkitError as exc:
            log.error("startup failed: %s", exc)
            raise
        watch = LoopWatch(reward_codes(registry), metrics.loop_stall)
        watch.start()
        contain_task_exits(asyncio.get_running_loop())
        if recorder is not None:
            recorder.start()
        try:
            yield
        finally:
            watch.stop()
            await engine.stop()
            if recorder is not None:  # after the last answer: every scored request is written
                await asyncio.to_thread(recorder.stop)
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)

    app = RewardkitApp(
        title="rewardkit",
        description="Reward functions served over these contracts: "
        + ", ".join(c.title for c in scoring.routes.contracts) + ".",
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.engine = engine
    app.state.default_reward = default
    app.state.contracts = scoring.routes.contracts  # the contracts this app serves, as the start-up log lists them
    app.state.settings = settings
    app.state.metrics = metrics
    app.scoring = scoring
    if settings.auth_tokens:
        auth_failures = metrics.requests.labels("(any)", "(any)", "unauthorized")
        app.auth = BearerAuth(app.dispatch, tokens=settings.auth_tokens, on_reject=auth_failures.inc)

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
        described = [_describe(spec, scoring.routes.contracts) for spec in registry]
        return {"default": default, "source": registry.source, "rewards": described}

    for path, contract in scoring.routes.templates():
        for served in {path, path.rstrip("/") + "/"}:  # with a trailing slash too, as `match` serves it
            app.router.add_route(served, scoring.endpoint(contract), methods=["POST"])  # type: ignore[arg-type]
    openapi.install(app, scoring.routes.templates())
    return app
