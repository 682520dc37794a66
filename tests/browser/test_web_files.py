"""Real Chromium takes the web app's files gzip-compressed, keeps them, and takes them from its cache on the next visit."""

from __future__ import annotations

import pytest
from playwright.async_api import Response

from telepractice.testing.server import PreparedSession
from tests.browser.page_checks import CheckedPages
from tests.browser.test_family_path import join_path

pytestmark = [pytest.mark.browser, pytest.mark.network]


async def test_the_family_page_arrives_compressed_and_a_second_visit_asks_for_none_of_its_files(
    checked_pages: CheckedPages, prepared: PreparedSession
) -> None:
    responses: list[Response] = []
    page = await checked_pages.open("family", "/exit", size="phone")
    page.on("response", lambda response: responses.append(response))
    await page.goto(checked_pages.server.origin + join_path(prepared, 0))
    await page.locator('main[data-step="language"]').wait_for()
    await page.wait_for_load_state("networkidle")  # the modules asked for after the first screen too

    first = {response.url: response for response in responses if "/static/" in response.url or response.url.endswith("/join")}
    assert any(url.endswith("/js/family/join-page.js") for url in first)
    for url, response in first.items():
        headers = await response.all_headers()
        assert response.status == 200, url
        if "/static/" in url:
            assert "/static/v/" in url and headers["cache-control"] == "max-age=31536000, immutable", url
        if url.endswith((".js", ".css", "/join")) and int(headers.get("content-length", "0")) > 0:
            body = await response.body()  # Chromium hands over the body unzipped
            if len(body) >= 512:
                assert headers.get("content-encoding") == "gzip", url
                assert int(headers["content-length"]) < len(body), url

    await page.goto(checked_pages.server.origin + "/exit")  # the same URL again would only move to its fragment
    await page.goto(checked_pages.server.origin + join_path(prepared, 1))
    await page.locator('main[data-step="language"]').wait_for()
    await page.wait_for_load_state("networkidle")  # the modules asked for after the first screen too
    # The page itself comes from the server (never stored); each of its files from the browser's cache, unasked:
    # no byte crossed the network for them (a 304 would have cost its headers and a round trip).
    files = await page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((entry) => entry.name.includes('/static/'))
        .map((entry) => [new URL(entry.name).pathname, entry.transferSize, entry.decodedBodySize])""")
    assert {path for path, _, _ in files} == {url.removeprefix(checked_pages.server.origin) for url in first
                                              if "/static/" in url}, "the same files"
    assert all(transferred == 0 and size > 0 for _, transferred, size in files), files
    assert checked_pages.page_errors() == {}
