"""The FastAPI app: routes wired to contract adapters, the pipeline and the registry."""

from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Union

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from . import _dashscope as dashscope
from . import _vertex as vertex
from ._engine import Engine, InlineEngine
from ._errors import UnknownRewardError
from ._invoke import Outcome
from ._loader import DEFAULT_TARGET, load_registry
from ._pipeline import evaluate
from ._registry import AnySpec, CompositeSpec, Registry

log = logging.getLogger("rewardkit")

_VERTEX = TypeAdapter(vertex.VertexRewardRequest)
_DASHSCOPE = TypeAdapter(dashscope.DashScopeRequest)
_SCHEMA_REF = "#/components/schemas/{model}"


class ErrorResponse(BaseModel):
    """Body of every 4xx answer (and of DashScope-style 500s): a sentence, then the details."""

    message: str
    detail: Any = None


class HTTPProblem(Exception):
    """A request rewardkit refuses, with the status and a message the caller can act on."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


def _validate(adapter: TypeAdapter, raw: Any, contract: str, tags: tuple[str, ...] = ()) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False, include_input=False):
            loc = tuple(error["loc"])
            if loc and loc[0] in tags:  # a discriminated union prefixes the tag; the caller never wrote it
                loc = loc[1:]
            msg = error["msg"]
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                # pydantic names the discriminator function; say which field and which values instead.
                got = error.get("ctx", {}).get("tag")
                loc = ("func_type",) if got else ()
                msg = f"expected 'reward' or 'group_reward', got {got!r}" if got else "expected a JSON object"
            errors.append({"loc": list(loc), "msg": msg, "type": error["type"]})
        summary = "; ".join(f"{_location(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise HTTPProblem(422, f"request body does not match the {contract} contract: {summary}{more}", errors) from None


async def _read_json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HTTPProblem(400, f"request body is not valid JSON: {exc}") from None


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


def _log_failures(spec: AnySpec, outcomes: list[Outcome], contract: str) -> None:
    for index, outcome in enumerate(outcomes):
        if outcome.failure is not None:
            how = "fallback score used" if outcome.score is not None else "no score"
            log.warning("reward %s failed (%s, %s, output %d, %s): %s", spec.name, outcome.failure.code,
                        contract, index, how, outcome.failure.message)


def _openapi_components() -> dict[str, Any]:
    models = [vertex.VertexRewardRequest, dashscope.RewardInput, dashscope.GroupRewardInput]
    _, schema = models_json_schema([(m, "validation") for m in models], ref_template=_SCHEMA_REF)
    return schema.get("$defs", {})


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_VERTEX_BODY = _body({"$ref": _SCHEMA_REF.format(model="VertexRewardRequest")})
_DASHSCOPE_BODY = _body({
    "oneOf": [{"$ref": _SCHEMA_REF.format(model=m)} for m in ("RewardInput", "GroupRewardInput")],
    "discriminator": {"propertyName": "func_type", "mapping": {
        "reward": _SCHEMA_REF.format(model="RewardInput"),
        "group_reward": _SCHEMA_REF.format(model="GroupRewardInput"),
    }},
})
_VERTEX_RESPONSES: dict[Union[int, str], dict[str, Any]] = {
    200: {"model": vertex.VertexRewardResponse, "description": "The reward"},
    500: {"model": vertex.VertexErrorResponse, "description": "The reward failed and has no fallback score"},
    **{code: {"model": ErrorResponse} for code in (400, 404, 422)},
}
_DASHSCOPE_RESPONSES: dict[Union[int, str], dict[str, Any]] = {
    200: {"model": Union[dashscope.RewardOutput, dashscope.GroupRewardOutput],
          "description": "RewardOutput or GroupRewardOutput; a failed reward has status 'failed'"},
    **{code: {"model": ErrorResponse} for code in (400, 404, 422, 500)},
}


def create_app(
    target: Union[str, Registry] = DEFAULT_TARGET,
    *,
    reward: str | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    """Build the app serving `target` (a module path, a .py file, or a Registry).

    `reward` names the default reward (also `REWARDKIT_REWARD`). Loading
    problems (bad target, duplicate names, bad signatures) raise here, at
    startup, never on a request.
    """
    registry = load_registry(target) if isinstance(target, str) else target
    default = default_reward(registry, reward or os.environ.get("REWARDKIT_REWARD") or None)
    engine = engine or InlineEngine()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await engine.start()
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

    async def score_vertex(request: Request, name: str | None) -> JSONResponse:
        spec = lookup(name)
        raw = await _read_json(request)
        body = _validate(_VERTEX, raw, "Vertex cloudRunRewardScorer")
        if spec.grouped:
            raise HTTPProblem(422, f"reward {spec.name!r} is grouped: it scores the responses of one prompt "
                              "together, and Vertex sends one response per call. Serve it to DashScope "
                              "group_reward requests instead.")
        outcomes = await evaluate(spec, vertex.to_samples(body, raw), engine)
        _log_failures(spec, outcomes, "vertex")
        status, content = vertex.render(spec, outcomes[0])
        return JSONResponse(content, status)

    async def score_dashscope(request: Request, name: str | None) -> JSONResponse:
        spec = lookup(name)
        raw = await _read_json(request)
        body = _validate(_DASHSCOPE, raw, "DashScope RewardInput/GroupRewardInput", ("reward", "group_reward"))
        group = isinstance(body, dashscope.GroupRewardInput)
        if spec.grouped and not group:
            raise HTTPProblem(422, f"reward {spec.name!r} is grouped: it needs a group_reward request "
                              "(func_type 'group_reward' with agent_outputs), got func_type 'reward'")
        outcomes = await evaluate(spec, dashscope.to_samples(body, raw), engine)
        _log_failures(spec, outcomes, "dashscope")
        status, content = dashscope.render(spec, outcomes, group)
        return JSONResponse(content, status)

    @app.exception_handler(HTTPProblem)
    async def problem(_request: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse(ErrorResponse(message=exc.message, detail=exc.detail).model_dump(), exc.status)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error while serving a request")
        return JSONResponse({"message": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    @app.get("/health", summary="Liveness and readiness")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "rewards": len(registry), "default_reward": default}

    @app.get("/rewards", summary="Registered rewards")
    async def rewards() -> dict[str, Any]:
        return {"default": default, "rewards": [_describe(spec) for spec in registry]}

    @app.post("/", summary="Vertex AI: score with the default reward",
              openapi_extra=_VERTEX_BODY, responses=_VERTEX_RESPONSES)
    async def vertex_default(request: Request) -> JSONResponse:
        return await score_vertex(request, default)

    @app.post("/api/v1", summary="DashScope: score with the default reward",
              openapi_extra=_DASHSCOPE_BODY, responses=_DASHSCOPE_RESPONSES)
    async def dashscope_default(request: Request) -> JSONResponse:
        return await score_dashscope(request, default)

    @app.post("/rewards/{name}", summary="Vertex AI: score with a named reward",
              openapi_extra=_VERTEX_BODY, responses=_VERTEX_RESPONSES)
    async def vertex_named(name: str, request: Request) -> JSONResponse:
        return await score_vertex(request, name)

    @app.post("/rewards/{name}/api/v1", summary="DashScope: score with a named reward",
              openapi_extra=_DASHSCOPE_BODY, responses=_DASHSCOPE_RESPONSES)
    async def dashscope_named(name: str, request: Request) -> JSONResponse:
        return await score_dashscope(request, name)

    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_openapi_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]

