"""Real Chromium takes the web app's files gzip-compressed, keeps them, and asks the server again on the next visit."""

from __future__ import annotations

import pytest
from playwright.async_api import Response

from telepractice.testing.server import PreparedSession
from tests.browser.page_checks import CheckedPages
from tests.browser.test_family_path import join_path

pytestmark = [pytest.mark.browser, pytest.mark.network]


async def test_the_family_page_arrives_compressed_and_a_second_visit_revalidates_every_file(
    checked_pages: CheckedPages, prepared: PreparedSession
) -> None:
    responses: list[Response] = []
    page = await checked_pages.open("family", "/exit", size="phone")
    page.on("response", lambda response: responses.append(response))
    await page.goto(checked_pages.server.origin + join_path(prepared, 0))
    await page.locator('main[data-step="language"]').wait_for()

    first = {response.url: response for response in responses if "/static/" in response.url or response.url.endswith("/join")}
    assert any(url.endswith("/static/js/family/join-page.js") for url in first)
    for url, response in first.items():
        headers = await response.all_headers()
        assert response.status == 200, url
        if url.endswith((".js", ".css", "/join")) and int(headers.get("content-length", "0")) > 0:
            body = await response.body()  # Chromium hands over the body unzipped
            if len(body) >= 512:
                assert headers.get("content-encoding") == "gzip", url
                assert int(headers["content-length"]) < len(body), url

    await page.goto(checked_pages.server.origin + "/exit")  # the same URL again would only move to its fragment
    responses.clear()
    await page.goto(checked_pages.server.origin + join_path(prepared, 1))
    await page.locator('main[data-step="language"]').wait_for()
    again = {response.url: response for response in responses if "/static/" in response.url}
    assert set(again) == {url for url in first if "/static/" in url}, "the same files, each asked for again"
    statuses = {url: response.status for url, response in again.items()}
    assert all(status == 304 for status in statuses.values()), statuses
    assert checked_pages.page_errors() == {}
