"""The web app's files from memory: which browsers get gzip, which ETags match, what is read again and what is never served."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from telepractice.web_files import (KEEP_FOR_GOOD, WORTH_COMPRESSING, WebFiles, accepts_gzip, etag_matches,
                                  read_web_file)

WEB = Path(__file__).resolve().parents[2] / "web"
SCRIPT = b"export const greeting = 'hello';\n" * 64  # compressible, above WORTH_COMPRESSING


@pytest.mark.parametrize(("header", "takes"), [
    ("gzip, deflate, br, zstd", True),  # Chromium's
    ("gzip", True),
    ("GZip", True),
    ("deflate, gzip;q=0.5", True),
    ("gzip;q=1.000", True),
    ("x-gzip", True),
    ("*", True),
    ("br;q=1, *;q=0.1", True),
    ("", False),
    ("identity", False),
    ("br, deflate", False),
    ("gzip;q=0", False),
    ("gzip;q=0.000", False),
    ("*;q=0", False),
    ("gzip;q=0, *", False),  # naming gzip overrides the wildcard
    ("*, gzip;q=0", False),
    ("gzip;q=2", False),  # not a valid q: the entry is ignored
    ("gzip;q=abc", False),
    ("gzip;q=0.5000", False),
    ("gzip;q=-1", False),
    ("gzip;q=abc, *", True),  # the broken entry ignored, the wildcard stands
    ("gzip ; level=9 ; q=0.8", True),
])
def test_gzip_is_sent_only_where_accept_encoding_takes_it(header: str, takes: bool) -> None:
    assert accepts_gzip(header) is takes


@pytest.mark.parametrize(("header", "matches"), [
    ('"abc"', True),
    ('W/"abc"', True),
    ('"zzz", "abc"', True),
    ("*", True),
    (' * ', True),
    ('"abc-gzip"', False),
    ('"ab"', False),
    ("abc", False),  # an ETag without its quotes is not that ETag
    ("", False),
    ('"zzz", *', False),  # * only alone
])
def test_if_none_match_is_compared_weakly_and_exactly(header: str, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches


def test_a_script_is_compressed_to_bytes_that_give_it_back_and_the_same_bytes_every_time(tmp_path: Path) -> None:
    path = tmp_path / "greeting.js"
    path.write_bytes(SCRIPT)
    first, second = read_web_file(path), read_web_file(path)
    assert first is not None and second is not None and first.gzipped is not None
    assert gzip.decompress(first.gzipped) == SCRIPT and len(first.gzipped) < len(SCRIPT) // 4
    assert first.gzipped == second.gzipped, "a restart must not change the bytes behind an ETag"
    assert first.content_type == "text/javascript; charset=utf-8"
    assert first.etag.startswith('"') and first.gzip_etag == first.etag[:-1] + '-gzip"'


def test_the_etag_follows_the_content_not_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_bytes(SCRIPT)
    (tmp_path / "b.js").write_bytes(SCRIPT)
    (tmp_path / "c.js").write_bytes(SCRIPT + b"//\n")
    a, b, c = (read_web_file(tmp_path / name) for name in ("a.js", "b.js", "c.js"))
    assert a is not None and b is not None and c is not None
    assert a.etag == b.etag != c.etag


def test_small_files_and_compressed_formats_go_out_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "small.css").write_bytes(b"a{color:red}" * ((WORTH_COMPRESSING - 1) // 12))
    (tmp_path / "picture.png").write_bytes(b"\x89PNG" + b"\0" * 4096)
    (tmp_path / "noise.js").write_bytes(os.urandom(4096))
    for name in ("small.css", "picture.png", "noise.js"):
        web_file = read_web_file(tmp_path / name)
        assert web_file is not None and web_file.gzipped is None, name
    png = read_web_file(tmp_path / "picture.png")
    assert png is not None and png.content_type == "image/png"


def test_every_page_script_and_style_sheet_of_the_web_app_is_sent_compressed() -> None:
    files = WebFiles(WEB)
    for path in sorted(WEB.rglob("*")):
        if path.suffix in (".html", ".js", ".css") and path.stat().st_size >= WORTH_COMPRESSING:
            web_file = files.get(path.relative_to(WEB).as_posix())
            assert web_file is not None and web_file.gzipped is not None, path


def test_a_changed_file_is_read_again_and_a_removed_one_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "js" / "greeting.js"
    path.parent.mkdir()
    path.write_bytes(SCRIPT)
    files = WebFiles(tmp_path)
    before = files.get("js/greeting.js")
    assert before is not None and files.get("js/greeting.js") is before, "an unchanged file is not read again"
    # Same size, same second: the stamp's inode and ctime still tell the new file apart.
    replacement = tmp_path / "js" / "new.tmp"
    replacement.write_bytes(SCRIPT.replace(b"hello", b"hallo"))
    os.replace(replacement, path)
    after = files.get("js/greeting.js")
    assert after is not None and after.body == SCRIPT.replace(b"hello", b"hallo") and after.etag != before.etag
    path.unlink()
    assert files.get("js/greeting.js") is None


def test_only_the_visible_regular_files_found_at_start_are_ever_served(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "js" / "page.js").write_bytes(SCRIPT)
    (root / ".hidden.js").write_bytes(SCRIPT)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"secret")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the web root")
    (root / "link.txt").symlink_to(secret)
    (root / "linked").symlink_to(tmp_path, target_is_directory=True)
    files = WebFiles(root)
    (root / "js" / "later.js").write_bytes(SCRIPT)
    assert files.get("js/page.js") is not None
    for name in (".hidden.js", ".git/config", "link.txt", "linked/secret.txt", "../secret.txt", "js/../../secret.txt",
                 "/etc/passwd", "js", "", "js/later.js", "js//page.js", "./js/page.js", "JS/PAGE.JS"):
        assert files.get(name) is None, name
        assert name not in files, name


PAGE = (b'<!doctype html>\n<link rel="stylesheet" href="/static/css/page.css">\n'
        b'<script type="module" src="/static/js/page.js"></script>\n<p>/static/ in words stays as it is</p>\n')


def release_root(tmp_path: Path) -> Path:
    (tmp_path / "js").mkdir()
    (tmp_path / "css").mkdir()
    (tmp_path / "js" / "page.js").write_bytes(SCRIPT)
    (tmp_path / "css" / "page.css").write_bytes(b"p{color:black}\n")
    (tmp_path / "page.html").write_bytes(PAGE)
    return tmp_path


def test_a_page_names_the_files_under_the_release_and_changes_nothing_else(tmp_path: Path) -> None:
    files = WebFiles(release_root(tmp_path))
    release = files.release()
    page = files.page("page.html")
    assert page is not None and len(release.tag) == 16
    assert page.body == PAGE.replace(b'"/static/', f'"/static/v/{release.tag}/'.encode())
    assert b"<p>/static/ in words stays as it is</p>" in page.body
    assert page.gzipped is None or gzip.decompress(page.gzipped) == page.body
    assert set(release.etags) == {"js/page.js", "css/page.css"}, "pages are not part of the release they name"
    assert files.page("page.html") is page, "an unchanged page is not rewritten again"


def test_a_changed_script_is_a_new_release_and_a_changed_page_alone_is_not(tmp_path: Path) -> None:
    root = release_root(tmp_path)
    files = WebFiles(root)
    first = files.release()
    assert WebFiles(root).release().tag == first.tag, "the same files are the same release after a restart"
    (root / "page.html").write_bytes(PAGE + b"<p>more words</p>\n")
    assert files.release().tag == first.tag
    page = files.page("page.html")
    assert page is not None and page.body.endswith(b"<p>more words</p>\n")
    (root / "js" / "page.js").write_bytes(SCRIPT + b"//\n")
    second = files.release()
    assert second.tag != first.tag and second.etags["css/page.css"] == first.etags["css/page.css"]
    page = files.page("page.html")
    assert page is not None and f"/static/v/{second.tag}/js/page.js".encode() in page.body


def test_a_file_changed_after_a_page_named_its_release_is_not_kept_under_that_release(tmp_path: Path) -> None:
    root = release_root(tmp_path)
    files = WebFiles(root)
    release = files.release()
    request = make_mocked_request("GET", f"/static/v/{release.tag}/js/page.js", headers={"Accept-Encoding": "identity"})
    kept = files.release_response(request, release.tag, "js/page.js", "no-cache")
    assert kept.headers["Cache-Control"] == KEEP_FOR_GOOD and kept.body == SCRIPT
    # Replaced between the page and the browser's request for it: today's file, asked for again next time.
    (root / "js" / "page.js").write_bytes(SCRIPT + b"//\n")
    changed = files.release_response(request, release.tag, "js/page.js", "no-cache")
    assert changed.headers["Cache-Control"] == "no-cache" and changed.body == SCRIPT + b"//\n"
    assert files.release_response(request, files.release().tag, "js/page.js", "no-cache").headers["Cache-Control"] == \
        KEEP_FOR_GOOD
