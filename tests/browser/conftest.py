"""Real Chromium (Debian's, through Playwright) and a real server, both inside a loopback-only namespace.

Skips with the reason where Chromium, root or ``ip netns`` is missing; with
``CI=true`` that skip is a failure instead, so CI cannot go green without
running these.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from telepractice.testing import netns
from telepractice.testing.server import (
    PreparedSession,
    RunningServer,
    prepare_family_session,
    server_environment,
    settings_for,
    start_server,
)

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"

# PLATFORM.md's recipe for Debian's Chromium with a fake camera and microphone, kept on loopback.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
WAIT_MS = 20_000  # every wait in a browser test is bounded by this


def skip_or_fail(reason: str) -> None:
    """Skip where the platform cannot run browser tests; on CI (CI=true) that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_platform() -> None:
    """Chromium, root and ``ip netns`` are all here (checked once per run)."""
    reason = netns.unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)


@pytest.fixture
def namespace(browser_platform: None) -> Iterator[netns.Namespace]:
    with netns.namespace() as ns:
        yield ns


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path / "data")


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    """A worker logged in and a session with two adults whose consent is on record, then one without."""
    return await prepare_family_session(settings_for(server_env), ("Ana Test", "Rui Test"), without_consent=("Bia Test",))


@pytest.fixture
def server(namespace: netns.Namespace, server_env: dict[str, str], prepared: PreparedSession,
           tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(namespace, server_env, tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def chromium_args() -> list[str]:
    """Chromium's flags; a test module that needs more overrides this fixture."""
    return CHROMIUM_ARGS


@pytest.fixture
async def browser(namespace: netns.Namespace, tmp_path: Path, chromium_args: list[str]) -> AsyncIterator[Browser]:
    wrapper = namespace.chromium_wrapper(tmp_path / "bin")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(wrapper), args=chromium_args,
                                                    timeout=WAIT_MS)
        try:
            yield launched
        finally:
            await launched.close()


class Pages:
    """Opens one page per participant, each in its own browser context (own storage, like its own device)."""

    def __init__(self, browser: Browser, server: RunningServer) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.errors: dict[str, list[str]] = {}

    async def open(self, label: str, path_and_fragment: str) -> Page:
        context = await self.browser.new_context(ignore_https_errors=True, viewport={"width": 960, "height": 720})
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors = self.errors.setdefault(label, [])
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        await page.goto(self.server.origin + path_and_fragment)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def pages(browser: Browser, server: RunningServer) -> AsyncIterator[Pages]:
    opened = Pages(browser, server)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def checked_pages(browser: Browser, server: RunningServer) -> AsyncIterator[object]:
    """Pages opened at a phone or desktop size in a chosen language, every request logged (tests/browser/page_checks.py)."""
    from tests.browser.page_checks import CheckedPages  # it imports this module's WAIT_MS

    opened = CheckedPages(browser, server)
    try:
        yield opened
    finally:
        await opened.close()
