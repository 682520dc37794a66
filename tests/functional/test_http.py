"""The HTTP front: health, security headers on every response, the OpenAPI document, error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from telepractice.app import create_app
from telepractice.config import Settings, load_settings
from telepractice.http import SECURITY_HEADERS, SERVER_NAME

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


async def test_health_reports_database_and_version(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body == {"status": "ok", "database": True, "version": body["version"]}
    assert body["version"]


async def test_health_says_when_the_database_is_unreachable(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings({}, {"data_dir": str(tmp_path),
                                  "database_url": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db"})
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["database"] is False


@pytest.mark.parametrize("path", ["/", "/healthz", "/static/css/base.css", "/api/openapi.json", "/api/nowhere", "/nowhere"])
async def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = await client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.getall("Server") == [SERVER_NAME], "no stack or version named"


async def test_a_websocket_upgrade_names_no_stack_or_version(client: TestClient, settings: Settings) -> None:
    socket = await client.ws_connect("/ws", headers={"Origin": settings.public_origin})
    try:
        assert socket._response.headers.getall("Server") == [SERVER_NAME]
    finally:
        await socket.close()


def test_content_security_policy_names_no_other_origin() -> None:
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "http" not in policy and "*" not in policy and "unsafe" not in policy
    assert "frame-ancestors 'none'" in policy


async def test_api_responses_are_not_cached(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.headers["Cache-Control"] == "no-store"


async def test_unknown_api_path_is_a_problem_document(client: TestClient) -> None:
    response = await client.get("/api/nowhere")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == 404 and body["code"] == "not-found"


async def test_wrong_method_is_a_problem_document(client: TestClient) -> None:
    response = await client.delete("/api/openapi.json")
    assert response.status == 405
    assert (await response.json())["code"] == "method-not-allowed"


def _routes_of(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        # The web app's own files (/static/...) and its front page are not part of the API.
        if path is None or route.method in {"HEAD", "*"} or path == "/" or path.startswith("/static/"):
            continue
        routes.add((route.method, path))
    return routes


async def test_openapi_document_lists_exactly_the_json_routes(client: TestClient, app: web.Application) -> None:
    document = await (await client.get("/api/openapi.json")).json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == _routes_of(app)
    assert document["openapi"].startswith("3.")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"], (method, path)
            body = operation.get("requestBody")
            if body:
                reference = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert reference in document["components"]["schemas"]
