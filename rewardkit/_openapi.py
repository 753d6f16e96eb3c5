"""OpenAPI: the scoring routes with both contracts' request and response models.

The scoring routes are plain ASGI endpoints that parse and validate bodies
by hand (to tell 400 from 422, to keep the raw body, and to skip FastAPI's
per-route cost), so FastAPI cannot see them; they are described here.
"""

from __future__ import annotations

from typing import Any, Union

from fastapi import FastAPI, Path
from fastapi.routing import APIRoute
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from . import _dashscope as dashscope
from . import _vertex as vertex
from ._http import ErrorResponse

_SCHEMA_REF = "#/components/schemas/{model}"


def _components() -> dict[str, Any]:
    models = [vertex.VertexRewardRequest, dashscope.RewardInput, dashscope.GroupRewardInput]
    _, schema = models_json_schema([(m, "validation") for m in models], ref_template=_SCHEMA_REF)
    return schema.get("$defs", {})


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


VERTEX_BODY = _body({"$ref": _SCHEMA_REF.format(model="VertexRewardRequest")})
DASHSCOPE_BODY = _body({
    "oneOf": [{"$ref": _SCHEMA_REF.format(model=m)} for m in ("RewardInput", "GroupRewardInput")],
    "discriminator": {"propertyName": "func_type", "mapping": {
        "reward": _SCHEMA_REF.format(model="RewardInput"),
        "group_reward": _SCHEMA_REF.format(model="GroupRewardInput"),
    }},
})
VERTEX_RESPONSES: dict[Union[int, str], dict[str, Any]] = {
    200: {"model": vertex.VertexRewardResponse, "description": "The reward"},
    500: {"model": vertex.VertexErrorResponse, "description": "The reward failed and has no fallback score"},
    **{code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 499, 503)},
}
DASHSCOPE_RESPONSES: dict[Union[int, str], dict[str, Any]] = {
    200: {"model": Union[dashscope.RewardOutput, dashscope.GroupRewardOutput],
          "description": "RewardOutput or GroupRewardOutput; a failed reward has status 'failed'"},
    **{code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 499, 500, 503)},
}


_DOCS = {
    vertex.PLATFORM: ("Vertex AI", VERTEX_BODY, VERTEX_RESPONSES),
    dashscope.PLATFORM: ("DashScope", DASHSCOPE_BODY, DASHSCOPE_RESPONSES),
}


async def _named(name: str = Path(description="A registered reward (GET /rewards lists them)")) -> None:
    """Never called: gives the documented route its path parameter."""


async def _default() -> None:
    """Never called: the documented route of the default reward."""


def _documented(path: str, contract: str) -> APIRoute:
    platform, body, responses = _DOCS[contract]
    named = "{name}" in path
    summary = f"{platform}: score with {'a named' if named else 'the default'} reward"
    return APIRoute(path, _named if named else _default, methods=["POST"], summary=summary,
                    openapi_extra=body, responses=responses)


def install(app: FastAPI, scoring: list[tuple[str, str]]) -> None:
    """Serve an OpenAPI schema that includes the scoring routes: (path, contract name) pairs."""
    documented = [_documented(path, contract) for path, contract in scoring]

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=[*app.routes, *documented])
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
