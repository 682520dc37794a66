"""API routes declared with their schemas and roles, so the OpenAPI document cannot drift."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiohttp import web

from telepractice import __version__
from telepractice.validation import Schema

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    body: Schema | None
    roles: Sequence[str] | None
    responses: dict[int, str]


class ApiRoutes:
    """A set of routes of one module; each route is recorded for the OpenAPI document."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.table = web.RouteTableDef()
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: Schema | None = None,
        roles: Sequence[str] | None = None,
        responses: dict[int, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.table.route(method, path)(handler)
            self.operations.append(
                Operation(method.upper(), path, summary, body, roles, responses or {200: "OK"})
            )
            return handler

        return register


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
        },
    }


def _operation(tag: str, op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {str(status): {"description": text} for status, text in op.responses.items()}
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    errors = {400: "Malformed request", 422: "Invalid field", 413: "Body too large"} if op.body else {}
    if op.roles is not None:
        errors.update({401: "Missing, forged or expired access token", 403: "Role not allowed"})
    for status, text in errors.items():
        responses.setdefault(str(status), {"description": text, "content": problem})
    document: dict[str, Any] = {"tags": [tag], "summary": op.summary, "responses": responses}
    if op.roles is not None:
        document["security"] = [{"bearer": []}]
        document["x-roles"] = list(op.roles)
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.name}"}}},
        }
    parameters = [
        {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for part in op.path.split("/")
        if part.startswith("{")
    ]
    if parameters:
        document["parameters"] = parameters
    return document


def openapi_document(route_sets: Iterable[ApiRoutes], server_origin: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Problem": _problem_schema()}
    for routes in route_sets:
        for op in routes.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(routes.tag, op)
            if op.body is not None:
                schemas[op.body.name] = op.body.json_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": "telepractice", "version": __version__},
        "servers": [{"url": server_origin}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
