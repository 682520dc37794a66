"""The web app's files over HTTP: gzip to browsers that take it, 304 to a browser whose copy is current,
pages never cached, scripts kept for good under the pages' release and revalidated elsewhere, and nothing but
the web root's files."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient

from telepractice.http import SECURITY_HEADERS

WEB = Path(__file__).resolve().parents[2] / "web"
CHROMIUM = "gzip, deflate, br, zstd"


@pytest.fixture
async def raw(client: TestClient) -> ClientSession:
    """A client that leaves bodies as the server sent them (the test client would unzip them)."""
    async with ClientSession(str(client.make_url("")), auto_decompress=False) as session:
        yield session


@pytest.mark.parametrize(("path", "file", "caching"), [
    ("/static/js/call-page.js", "js/call-page.js", "no-cache"),
    ("/static/css/call.css", "css/call.css", "no-cache"),
    ("/static/js/family/join-page.js", "js/family/join-page.js", "no-cache"),
    ("/", "index.html", "no-cache"),
    ("/join", "join.html", "no-store"),
    ("/call", "call.html", "no-store"),
    ("/console", "console.html", "no-store"),
])
async def test_a_browser_that_takes_gzip_gets_it_and_one_that_does_not_gets_the_file(
    raw: ClientSession, path: str, file: str, caching: str
) -> None:
    written = served_as((WEB / file).read_bytes(), path, await page_release(raw))
    compressed = await raw.get(path, headers={"Accept-Encoding": CHROMIUM})
    assert compressed.status == 200
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert compressed.headers["Vary"] == "Accept-Encoding"
    assert compressed.headers["Cache-Control"] == caching
    body = await compressed.read()
    assert gzip.decompress(body) == written and len(body) < len(written) / 2
    assert int(compressed.headers["Content-Length"]) == len(body)

    plain = await raw.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert await plain.read() == written
    assert plain.headers["ETag"] != compressed.headers["ETag"]
    for response in (compressed, plain):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)


RELEASED = re.compile(rb'"/static/v/([0-9a-f]{16})/')


def served_as(written: bytes, path: str, release: str) -> bytes:
    """What the server sends for a file written so: a page names the web app's files under the release."""
    return written if path.startswith("/static/") else written.replace(b'"/static/', f'"/static/v/{release}/'.encode())


async def page_release(raw: ClientSession, page: str = "/join") -> str:
    body = await (await raw.get(page, headers={"Accept-Encoding": "identity"})).read()
    (release,) = set(RELEASED.findall(body))
    return release.decode()


async def test_every_page_names_the_scripts_and_style_sheets_under_one_release_kept_for_good(raw: ClientSession) -> None:
    release = await page_release(raw)
    for page in ("/", "/join", "/call", "/console", "/goodbye", "/exit"):
        body = await (await raw.get(page)).read()
        assert b'"/static/' not in body.replace(f'"/static/v/{release}/'.encode(), b""), page
        for name in re.findall(rb'"/static/v/[0-9a-f]{16}/([^"]+)"', body):
            kept = await raw.get(f"/static/v/{release}/{name.decode()}", headers={"Accept-Encoding": CHROMIUM})
            assert kept.status == 200, name
            assert kept.headers["Cache-Control"] == "max-age=31536000, immutable", name
            plain = await raw.get(f"/static/{name.decode()}", headers={"Accept-Encoding": CHROMIUM})
            assert await kept.read() == await plain.read() and kept.headers["ETag"] == plain.headers["ETag"], name


async def test_a_file_asked_for_under_another_release_is_todays_and_asked_for_again(raw: ClientSession) -> None:
    # A page loaded before an upgrade may ask for a module after it: today's file, not kept under the old address.
    response = await raw.get("/static/v/0123456789abcdef/js/protocol.js", headers={"Accept-Encoding": "identity"})
    assert response.status == 200 and response.headers["Cache-Control"] == "no-cache"
    assert await response.read() == (WEB / "js" / "protocol.js").read_bytes()


@pytest.mark.parametrize("path", [
    "/static/v/{release}/join.html",  # pages are never kept: they carry the release
    "/static/v/{release}/js/nothing.js",
    "/static/v/{release}/js/../../pyproject.toml",
    "/static/v/{release}/%2e%2e/%2e%2e/pyproject.toml",
    "/static/v/{release}/",
    "/static/v/not-a-release/js/protocol.js",
    "/static/v/{release}0/js/protocol.js",
])
async def test_a_release_path_serves_only_the_web_apps_scripts_and_style_sheets(raw: ClientSession, path: str) -> None:
    response = await raw.get(path.format(release=await page_release(raw)))
    assert response.status == 404, path
    assert "pyproject" not in await response.text()


@pytest.mark.parametrize(("path", "content_type"), [
    ("/static/js/call.js", "text/javascript; charset=utf-8"),
    ("/static/css/base.css", "text/css; charset=utf-8"),
    ("/join", "text/html; charset=utf-8"),
])
async def test_each_file_goes_out_with_its_type(raw: ClientSession, path: str, content_type: str) -> None:
    response = await raw.get(path)
    assert response.headers["Content-Type"] == content_type


async def test_a_browser_whose_copy_is_current_gets_304_and_no_body(raw: ClientSession) -> None:
    for encoding in (CHROMIUM, "identity"):
        first = await raw.get("/static/js/protocol.js", headers={"Accept-Encoding": encoding})
        etag = first.headers["ETag"]
        again = await raw.get("/static/js/protocol.js",
                              headers={"Accept-Encoding": encoding, "If-None-Match": f'"other", {etag}'})
        assert again.status == 304 and await again.read() == b""
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "no-cache"
        assert again.headers["Vary"] == "Accept-Encoding"
    # The other representation's ETag is not this one's: the body is sent.
    identity_etag = (await raw.get("/static/js/protocol.js", headers={"Accept-Encoding": "identity"})).headers["ETag"]
    crossed = await raw.get("/static/js/protocol.js", headers={"Accept-Encoding": CHROMIUM, "If-None-Match": identity_etag})
    assert crossed.status == 200 and crossed.headers["Content-Encoding"] == "gzip"
    stale = await raw.get("/static/js/protocol.js", headers={"If-None-Match": '"an-old-version"'})
    assert stale.status == 200 and len(await stale.read()) > 0


async def test_head_gives_the_headers_without_the_body(raw: ClientSession) -> None:
    got = await raw.get("/static/js/call-page.js", headers={"Accept-Encoding": CHROMIUM})
    head = await raw.head("/static/js/call-page.js", headers={"Accept-Encoding": CHROMIUM})
    assert head.status == 200 and await head.read() == b""
    for name in ("Content-Length", "Content-Encoding", "ETag", "Content-Type", "Cache-Control"):
        assert head.headers[name] == got.headers[name], name


@pytest.mark.parametrize("path", [
    "/static/nothing.js",
    "/static/js/",
    "/static/js",
    "/static/%2e%2e/pyproject.toml",
    "/static/js%2F..%2F..%2Fpyproject.toml",
    "/static/..%2f..%2fpyproject.toml",
    "/static/%2Fetc%2Fpasswd",
    "/static/js/call.js%00.css",
])
async def test_anything_but_a_file_of_the_web_root_is_not_found(raw: ClientSession, path: str) -> None:
    response = await raw.get(path, headers={"Accept-Encoding": CHROMIUM})
    assert response.status == 404, path
    assert "pyproject" not in await response.text()


async def test_files_are_only_read(raw: ClientSession) -> None:
    for method in ("POST", "PUT", "DELETE"):
        response = await raw.request(method, "/static/js/call.js")
        assert response.status == 405, method
