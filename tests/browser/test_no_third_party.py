"""No page asks anything of another origin (issue 5): every request of a whole path is recorded and checked.

The pages' CSP would block most such requests, but a blocked request is still
a page that depends on somewhere else; this records what the pages actually
ask for (HTTP from pages and workers, WebSockets) and the CSP each page is
served with.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from telepractice.testing.server import PreparedSession
from tests.browser.conftest import WAIT_MS
from tests.browser.page_checks import CheckedPages
from tests.browser.test_call import admit, family_path, staff_path, video_playing

pytestmark = [pytest.mark.browser, pytest.mark.network]

SAFE_SOURCES = {"'self'", "'none'", "data:", "blob:"}

# The HTML pages the server documents in its OpenAPI document, plus the front page (served outside the API).
HTML_PAGES = """
async () => {
  const document = await (await fetch('/api/openapi.json')).json();
  return ['/', ...Object.entries(document.paths)
    .filter(([, operations]) => operations.get?.responses?.['200']?.description === 'HTML page')
    .map(([path]) => path)];
}
"""


def csp_problems(path: str, header: str | None) -> list[str]:
    if not header:
        return [f"{path}: no Content-Security-Policy header"]
    problems = [f"{path}: {header!r} allows something unsafe"] if "unsafe" in header else []
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        problems += [f"{path}: {name} allows {source}" for source in sources if source not in SAFE_SOURCES]
    return problems


async def test_every_html_page_is_served_with_a_csp_that_allows_only_its_own_origin(
    checked_pages: CheckedPages
) -> None:
    page = await checked_pages.open("visitor", "/")
    paths = await page.evaluate(HTML_PAGES)
    assert {"/", "/join", "/call"} <= set(paths)
    problems: list[str] = []
    for path in paths:
        response = await page.goto(checked_pages.server.origin + path)
        assert response is not None and response.status == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        problems += csp_problems(path, response.headers.get("content-security-policy"))
    assert problems == []
    assert checked_pages.requests.foreign(checked_pages.server.origin) == []


def test_the_csp_reading_finds_another_origin_and_unsafe_inline() -> None:
    assert csp_problems("/x", "default-src 'self'; script-src 'self' https://cdn.example 'unsafe-inline'") == [
        "/x: \"default-src 'self'; script-src 'self' https://cdn.example 'unsafe-inline'\" allows something unsafe",
        "/x: script-src allows https://cdn.example", "/x: script-src allows 'unsafe-inline'"]
    assert csp_problems("/x", None) == ["/x: no Content-Security-Policy header"]


async def test_a_whole_call_from_both_sides_asks_nothing_of_any_other_origin(
    checked_pages: CheckedPages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    origin = checked_pages.server.origin
    worker = await checked_pages.open("worker", staff_path(prepared), size="desktop")
    family = await checked_pages.open("family", family_path(prepared, 0), size="phone")
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    # The waiting room's connection test posts its result when done; a session ended before then would refuse it.
    await family.wait_for_function("() => window.telepractice.connectionTest !== undefined", timeout=WAIT_MS)
    await worker.locator("#end").click()
    form = family.locator("#evaluation form")
    await form.wait_for()
    await form.locator('input[type="radio"]').first.check()
    await family.goto(origin + "/exit")

    urls = [url for _label, url in checked_pages.requests.urls]
    assert any(url.startswith(origin.replace("https:", "wss:")) for url in urls), "the signalling socket was seen"
    assert any(url.endswith(".js") for url in urls) and any(url.endswith(".css") for url in urls)
    assert checked_pages.requests.foreign(origin) == []
    assert checked_pages.page_errors() == {}


async def test_the_recorder_sees_a_request_to_another_origin(checked_pages: CheckedPages) -> None:
    """The check can fail: with the CSP bypassed on purpose, a fetch elsewhere (another loopback address) is listed."""
    page = await checked_pages.open("probe", "/", bypass_csp=True)
    await page.evaluate("() => fetch('https://127.0.0.2:9/elsewhere').catch(() => null)")
    assert checked_pages.requests.foreign(checked_pages.server.origin) == ["probe: https://127.0.0.2:9/elsewhere"]
