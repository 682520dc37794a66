"""certs/README.md's proxy files run by Debian's nginx and Caddy in front of telepractice: what is copied works.

The files come from the README itself (telepractice/testing/reverse_proxy.py);
the browser reaches them as https://sessions.example.org, the name the README
uses, mapped to 127.0.0.1 inside the test's namespace.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from telepractice.config import Settings
from telepractice.testing import netns
from telepractice.testing.reverse_proxy import (
    PROXIES,
    PUBLIC_NAME,
    UPSTREAM_PORT,
    RunningProxy,
    check_config,
    start_proxy,
    write_config,
)
from telepractice.testing.processes import stop_process
from telepractice.testing.server import PreparedSession, server_environment, wait_for_port
from telepractice.tls import ensure_dev_certificate
from tests.browser.conftest import CHROMIUM_ARGS, REPO, WAIT_MS, Pages, skip_or_fail
from tests.browser.test_call import admit, family_path, no_page_errors, staff_path, video_playing

ORIGIN = f"https://{PUBLIC_NAME}"
README_HSTS = "max-age=63072000; includeSubDomains"
MAX_BODY_BYTES = Settings().max_body_bytes  # TELEPRACTICE_MAX_BODY_BYTES, which the README says the proxy matches


@pytest.fixture(params=sorted(PROXIES))
def proxy(request: pytest.FixtureRequest, namespace: netns.Namespace, tmp_path: Path) -> Iterator[RunningProxy]:
    kind = PROXIES[request.param]
    if not os.access(kind.binary, os.X_OK):
        skip_or_fail(f"{kind.binary} is missing (apt-get install {kind.name})")
    directory = tmp_path / kind.name
    directory.mkdir()
    cert, key = ensure_dev_certificate(directory / "tls")
    write_config(kind, directory, (REPO / "certs" / "README.md").read_text(), cert, key)
    check_config(namespace, kind, directory)
    running = start_proxy(namespace, kind, directory)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def chromium_args() -> list[str]:
    """The usual flags, and the README's server name found at 127.0.0.1."""
    return [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {PUBLIC_NAME} 127.0.0.1"]


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """telepractice as the README sets it up behind a proxy: plain HTTP on 127.0.0.1:8080, the public origin named."""
    return server_environment(tmp_path / "data", port=UPSTREAM_PORT, behind_proxy="true", public_origin=ORIGIN)


@pytest.fixture
def header_echo(namespace: netns.Namespace, tmp_path: Path) -> Iterator[None]:
    script = Path(__file__).with_name("header_echo.py")
    with (tmp_path / "echo.log").open("wb") as log:
        process = namespace.popen([sys.executable, str(script), str(UPSTREAM_PORT)], stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        assert wait_for_port(namespace, UPSTREAM_PORT, 15.0), (tmp_path / "echo.log").read_text()
        yield
    finally:
        stop_process(process)


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(ignore_https_errors=True)  # the test certificate is not for this name
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


SEEN_BY_FETCH = """async ([path, init]) => {
  const response = await fetch(path, init);
  return {status: response.status, hsts: response.headers.get('strict-transport-security'),
          body: response.headers.get('content-type')?.startsWith('application/json') ? await response.json() : null};
}"""

SEEN_BY_WEBSOCKET = """() => new Promise((resolve, reject) => {
  const socket = new WebSocket(`wss://${location.host}/ws`);
  socket.onmessage = (event) => resolve(JSON.parse(event.data));
  socket.onerror = () => reject(new Error('the WebSocket through the proxy failed'));
})"""


# The protocols of every file the page took from the network (its cache aside).
FETCHED_OVER = """() => [...new Set(performance.getEntriesByType('navigation')
  .concat(performance.getEntriesByType('resource'))
  .filter((entry) => entry.transferSize > 0).map((entry) => entry.nextHopProtocol))]"""


def forwarded(seen: dict[str, Any]) -> dict[str, str | None]:
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    return {name: headers.get(name) for name in ("host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")}


def client_address(seen: dict[str, Any]) -> str:
    """The address telepractice takes for the client: the last of X-Forwarded-For (auth/routes.py)."""
    return str(forwarded(seen)["x-forwarded-for"]).rsplit(",", 1)[-1].strip()


EXPECTED_FORWARDED = {"host": PUBLIC_NAME, "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "https",
                      "x-forwarded-host": PUBLIC_NAME}


async def test_the_readme_file_sends_the_browsers_own_address_over_https_on_every_request_the_websocket_too(
    proxy: RunningProxy, header_echo: None, browser: Browser
) -> None:
    page = await new_page(browser)
    response = await page.goto(f"http://{PUBLIC_NAME}/a/page?code=secret-query")
    assert response is not None and response.ok
    assert page.url == f"{ORIGIN}/a/page?code=secret-query", "plain HTTP goes to HTTPS"
    redirect = response.request.redirected_from
    assert redirect is not None and (await redirect.response()).status in (301, 308)  # type: ignore[union-attr]
    assert await page.evaluate("() => performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"

    seen = await response.json()
    assert forwarded(seen) == EXPECTED_FORWARDED
    headers = await response.headers_array()
    assert [h["value"] for h in headers if h["name"].lower() == "strict-transport-security"] == [README_HSTS]
    assert not any(char.isdigit() for h in headers if h["name"].lower() == "server" for char in h["value"]), \
        "no version is sent"

    # An address the browser puts in X-Forwarded-For itself is not the one telepractice reads (the last).
    spoofed = await page.evaluate(SEEN_BY_FETCH, ["/api/x", {"headers": {"X-Forwarded-For": "203.0.113.9"}}])
    assert client_address(spoofed["body"]) == "127.0.0.1"

    # The signalling socket: upgraded through the proxy, with the same headers as any other request.
    upgrade = await page.evaluate(SEEN_BY_WEBSOCKET)
    assert upgrade["path"] == "/ws"
    assert forwarded(upgrade) == EXPECTED_FORWARDED
    assert {name.lower(): value.lower() for name, value in upgrade["headers"].items()}["upgrade"] == "websocket"

    # A body over telepractice's limit never reaches it, and the proxy's own error page carries HSTS too
    # (Caddy 2.6 answers 502 where later versions answer 413: certs/README.md).
    too_big = await page.evaluate(SEEN_BY_FETCH, ["/api/x", {"method": "POST", "body": "x" * (MAX_BODY_BYTES + 1)}])
    assert too_big["status"] in (413, 502) and too_big["body"] is None and too_big["hsts"] == README_HSTS
    fits = await page.evaluate(SEEN_BY_FETCH, ["/api/x", {"method": "POST", "body": "x" * MAX_BODY_BYTES}])
    assert fits["status"] == 200 and fits["hsts"] == README_HSTS, "a body telepractice takes gets through"

    # The access log keeps the path but never a query string, even in a Referer (a token could be in either).
    log = proxy.access_log()
    assert "/a/page" in log and "secret-query" not in log


async def test_a_whole_call_runs_through_the_readme_file_over_http2_and_its_websocket(
    proxy: RunningProxy, pages: Pages, prepared: PreparedSession
) -> None:
    ana = prepared.family[0]
    assert pages.server.origin == ORIGIN
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("family", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    for page in (worker, family):
        assert await page.evaluate("() => window.telepractice.client.state") == "joined"
        assert await page.evaluate(FETCHED_OVER) == ["h2"]
    no_page_errors(pages)
