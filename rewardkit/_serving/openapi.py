"""OpenAPI: the scoring routes with each contract's request and response models.

The scoring routes are plain ASGI endpoints that parse and validate bodies
by hand (to tell 400 from 422, to keep the raw body, and to skip FastAPI's
per-route cost), so FastAPI cannot see them; they are described here, from
what each contract says of itself (`Contract.openapi`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Path
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from ..contracts import Contract, OpenAPIEntry
from ..contracts.base import SCHEMA_REF


def _components(entries: list[OpenAPIEntry]) -> dict[str, Any]:
    models = list(dict.fromkeys(m for entry in entries for m in entry.models))
    if not models:
        return {}
    _, schema = models_json_schema([(m, "validation") for m in models], ref_template=SCHEMA_REF)
    defs: dict[str, Any] = schema.get("$defs", {})
    return defs


async def _named(name: str = Path(description="A registered reward (GET /rewards lists them)")) -> None:
    """Never called: gives the documented route its path parameter."""


async def _default() -> None:
    """Never called: the documented route of the default reward."""


def _documented(path: str, entry: OpenAPIEntry) -> APIRoute:
    named = "{name}" in path
    summary = f"{entry.tag}: score with {'a named' if named else 'the default'} reward"
    body = {"requestBody": {"required": True, "content": {"application/json": {"schema": entry.body}}}}
    return APIRoute(path, _named if named else _default, methods=["POST"], summary=summary, tags=[entry.tag],
                    openapi_extra=body, responses=entry.responses)


def install(app: FastAPI, scoring: list[tuple[str, Contract]]) -> None:
    """Serve an OpenAPI schema that includes the scoring routes: (path, contract) pairs."""
    entries = {contract.name: contract.openapi() for _, contract in scoring}
    documented = [_documented(path, entry) for path, contract in scoring if (entry := entries[contract.name])]

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=[*app.routes, *documented])
            components = _components([e for e in entries.values() if e is not None])
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
