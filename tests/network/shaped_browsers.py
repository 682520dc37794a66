"""What the tests with Chromium on shaped links share: its flags, launching it in a namespace, and skipping.

Each browser's one address is in the shaped network (10.99.0.0/24), so unlike
PLATFORM.md's list these flags leave out --allow-loopback-in-peer-connection.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from telepractice.testing import netns, shaped_link

ORIGIN = f"https://{shaped_link.SERVER_ADDRESS}:8443"  # the server's namespace, on the bridge

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


def unavailable_reason() -> str | None:
    """Why shaped networks cannot be made on this machine, or None."""
    return netns.unavailable_reason() or shaped_link.unavailable_reason()


def skip_or_fail(what: str, reason: str) -> None:
    """Skip where the machine cannot make namespaces; on CI, which can, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} must run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


async def launch(playwright: Any, ns: netns.Namespace, directory: Path, timeout_ms: int,
                 extra_args: Sequence[str] = ()) -> Browser:
    """Chromium inside ``ns`` (through a wrapper script that enters it), with ``extra_args`` after the usual flags."""
    wrapper = ns.chromium_wrapper(directory)
    return await playwright.chromium.launch(executable_path=str(wrapper), args=[*CHROMIUM_ARGS, *extra_args],
                                            timeout=timeout_ms)


async def open_page(browser: Browser, path: str, timeout_ms: int) -> Page:
    """A fresh context (its own storage) on the server's ``path``, at a desktop size."""
    context = await browser.new_context(ignore_https_errors=True, viewport={"width": 960, "height": 720})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    await page.goto(ORIGIN + path)
    return page
