"""OpenAPI: both contracts' request and response models, though the routes read bodies themselves.

The routes parse and validate bodies by hand (to tell 400 from 422 and to
keep the raw body), so FastAPI cannot see the models; they are declared here.
"""

from __future__ import annotations

from typing import Any, Union

from fastapi import FastAPI
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


def install(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
