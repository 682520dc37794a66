"""The pages of the family's path: never kept in the HTTP cache, each script a module file, and a quick exit page that tells nothing."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from telepractice.http import SECURITY_HEADERS

FAMILY_PAGES = ["/join", "/call", "/goodbye", "/exit"]
RELEASE = r"/static/v/[0-9a-f]{16}/"  # where a page names the web app's files (telepractice/web_files.py)


@pytest.mark.parametrize("path", FAMILY_PAGES)
async def test_the_family_pages_are_never_cached_and_carry_the_security_headers(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize("path", FAMILY_PAGES)
async def test_the_family_pages_have_no_inline_script_or_style(client: TestClient, path: str) -> None:
    html = await (await client.get(path)).text()
    assert " style=" not in html and "<style" not in html
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
        assert script.strip() == ""
    assert all(re.match(RELEASE + "js/", src) for src in re.findall(r'<script[^>]*src="([^"]+)"', html))


async def test_the_quick_exit_page_says_nothing_about_the_service_and_runs_only_its_title(client: TestClient) -> None:
    html = (await (await client.get("/exit")).text()).lower()
    assert "<title>new tab</title>" in html  # what it shows before its one script names the tab in the browser's language
    for word in ("telepractice", "session", "sessão", "social", "video", "vídeo", "family", "stylesheet"):
        assert word not in html, word
    (script_tag,) = re.findall(r"<script[^>]*>", html)
    assert re.fullmatch(f'<script type="module" src="{RELEASE}js/exit-page.js">', script_tag)
    script = await (await client.get("/static/js/exit-page.js")).text()
    # It reads the browser's languages and sets the title: no request, no storage, nothing sent anywhere.
    for call in ("fetch(", "XMLHttpRequest", "WebSocket", "sendBeacon", "localStorage", "sessionStorage", "import "):
        assert call not in script, call


async def test_the_join_page_runs_the_family_path_not_the_call(client: TestClient) -> None:
    html = await (await client.get("/join")).text()
    assert re.search(f'src="{RELEASE}js/family/join-page.js"', html)
    assert 'id="quick-exit"' in html
