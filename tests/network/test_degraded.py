"""Degraded networks, for real: the server and Chromium in namespaces of the test's own, each link shaped.

The server runs in one namespace behind a bridge (10.99.0.1); each browser runs
in its own namespace, linked to the bridge through a userspace link emulator
(telepractice/testing/shaped_link.py) that adds loss, a bandwidth cap or a
cut on both directions. Nothing leaves those namespaces. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from telepractice.testing import netns, shaped_link
from telepractice.testing.server import (
    PreparedSession,
    RunningServer,
    prepare_family_session,
    server_environment,
    settings_for,
    start_server,
)
from telepractice.testing.shaped_link import ShapedNetwork

pytestmark = pytest.mark.network

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
WAIT_MS = 30_000
ORIGIN = f"https://{shaped_link.SERVER_ADDRESS}:8443"

# Runs the page's connection test (web/js/connection-test.js) with a 320x240 camera; returns its result.
CONNECTION_TEST = """
async ([token, seconds]) => {
  const { runConnectionTest } = await import('/static/js/connection-test.js');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  try {
    return await runConnectionTest({ origin: location.origin, token, seconds, videoTrack: stream.getVideoTracks()[0] });
  } finally {
    for (const track of stream.getTracks()) track.stop();
  }
}
"""


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"degraded-network tests must run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def platform() -> None:
    reason = netns.unavailable_reason() or shaped_link.unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)


@pytest.fixture
def network(platform: None) -> Iterator[ShapedNetwork]:
    with shaped_link.shaped_network(2) as made:
        yield made


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path / "data", host="0.0.0.0", public_origin=ORIGIN)


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    return await prepare_family_session(settings_for(server_env), ("Ana Test",))


@pytest.fixture
def server(network: ShapedNetwork, server_env: dict[str, str], prepared: PreparedSession,
           tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(network.server, server_env, tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


async def launch(playwright: Any, ns: netns.Namespace, directory: Path) -> Browser:
    wrapper = ns.chromium_wrapper(directory)
    return await playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS, timeout=WAIT_MS)


@pytest.fixture
async def browsers(network: ShapedNetwork, server: RunningServer, tmp_path: Path) -> AsyncIterator[list[Browser]]:
    """One Chromium per client namespace: [worker's, family's]."""
    async with async_playwright() as playwright:
        launched: list[Browser] = []
        try:
            for index, client in enumerate(network.clients):
                launched.append(await launch(playwright, client.ns, tmp_path / f"bin{index}"))
            yield launched
        finally:
            for browser in launched:
                await browser.close()


async def open_page(browser: Browser, path: str) -> Page:
    context = await browser.new_context(ignore_https_errors=True, viewport={"width": 960, "height": 720})
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(ORIGIN + path)
    return page


async def connection_test(page: Page, token: str, seconds: float = 5.0) -> dict[str, Any]:
    return await asyncio.wait_for(page.evaluate(CONNECTION_TEST, [token, seconds]), timeout=60)


async def test_connection_test_verdicts_match_the_shaped_link(
    network: ShapedNetwork, browsers: list[Browser], prepared: PreparedSession, server: RunningServer
) -> None:
    family = network.clients[1]
    page = await open_page(browsers[1], "/")
    token = prepared.family[0].join_token
    seen: dict[str, dict[str, Any]] = {}
    for name, shape, expected in (
        ("clean", shaped_link.CLEAR, "good"),
        ("20% loss each way", shaped_link.Shape(loss_percent=20), "audio-only"),
        ("capped at 128 kbit/s", shaped_link.Shape(rate_kbit=128, limit_packets=40), "audio-only"),
        ("cut", shaped_link.CUT, "no-connection"),
    ):
        network.apply(family, shape)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        result = await connection_test(page, token)
        seen[name] = {**result["stats"], "verdict": result["verdict"], "seconds": round(time.monotonic() - started, 1)}
        network.clear(family)
        await asyncio.sleep(0.5)
    print("\nconnection test per shaped link:")
    for name, figures in seen.items():
        print(f"  {name}: {figures}")
    assert {name: figures["verdict"] for name, figures in seen.items()} == {
        "clean": "good", "20% loss each way": "audio-only", "capped at 128 kbit/s": "audio-only",
        "cut": "no-connection",
    }, server.log()[-3000:]
