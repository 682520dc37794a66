"""The web app's files, served from memory: gzip-compressed for browsers that take it, revalidated by ETag.

A family joins from whatever phone they have, often on a slow mobile link. The call page's script and style
sheets are 178 KB as written and 58 KB gzip-compressed, and every byte past TCP's first window costs a round
trip. aiohttp's static route sends files as they are (it compresses only from a ``.gz`` written beside each
file, which an install should not have to build), so each file is read once, compressed once and kept.

A file is looked at again (one ``stat``) at every request and re-read when it changed, so an upgrade that
replaces files under a running server, or an edit during development, is served at once. The set of files is
the one found at start-up: a request names a key in that map, never a path, so nothing outside the web root
and no symbolic link can be reached.

Pages name the scripts and style sheets under a release path (``/static/v/<release>/js/call.js``), the
release being a digest of every such file as it is now. A browser may then keep what it fetched there for
good (``immutable``) and ask nothing on its next visit, where each file would otherwise cost a round trip
for its 304 on a family's slow link; an upgrade or an edit changes the release, so every address changes
with it and no page runs an older version's modules. ES modules import each other by relative paths,
so a page's imports stay under its own release without the scripts being rewritten.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from telepractice.crypto.keyring import FileStamp, file_stamp

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
# Formats that are already compressed gain nothing from gzip.
COMPRESSIBLE = frozenset({".html", ".js", ".css", ".json", ".svg", ".txt"})
# Below this a gzip body saves less than a packet; the identity body goes out instead.
WORTH_COMPRESSING = 512
# What a release path's file may be kept for: a year, unasked, since another content gets another address.
KEEP_FOR_GOOD = "max-age=31536000, immutable"
RELEASE_CHARS = 16  # hex digits of the release digest: 64 bits
RELEASE_PATTERN = f"[0-9a-f]{{{RELEASE_CHARS}}}"  # a release as a route matches it


@dataclass(frozen=True, slots=True)
class WebFile:
    """One file as it was read: its body, its gzip body if that is worth sending, and their ETags."""

    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str
    gzip_etag: str
    stamp: FileStamp | None


def read_web_file(path: Path) -> WebFile | None:
    """The file at path, compressed if its kind and size make that worth it; None if it is gone."""
    stamp = file_stamp(path)
    try:
        body = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    return _web_file(body, path.suffix, stamp)


def _web_file(body: bytes, suffix: str, stamp: FileStamp | None) -> WebFile:
    gzipped = None
    if suffix in COMPRESSIBLE and len(body) >= WORTH_COMPRESSING:
        # mtime=0: the same file gives the same bytes, so a restart keeps browsers' copies valid.
        candidate = gzip.compress(body, compresslevel=9, mtime=0)
        gzipped = candidate if len(candidate) < len(body) else None
    digest = hashlib.sha256(body).hexdigest()[:32]
    # Each representation has its own strong ETag (RFC 9110 8.8.3): a cache must not answer a browser that
    # takes no gzip with the gzip body it revalidated for another.
    return WebFile(body, gzipped, CONTENT_TYPES.get(suffix, "application/octet-stream"),
                   f'"{digest}"', f'"{digest}-gzip"', stamp)


@dataclass(frozen=True, slots=True)
class Release:
    """The web app's scripts and style sheets as one page load names them: the set's digest and each file's ETag."""

    tag: str
    etags: dict[str, str]

    def names(self, page: bytes) -> bytes:
        """The page with each address of a web app file moved under this release's path."""
        return page.replace(b'"/static/', f'"/static/v/{self.tag}/'.encode())


def _release_of(etags: dict[str, str]) -> Release:
    digest = hashlib.sha256()
    for name in sorted(etags):
        digest.update(f"{name}\0{etags[name]}\0".encode())
    return Release(digest.hexdigest()[:RELEASE_CHARS], etags)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3): named, or by ``*``, with a q above 0."""
    named: float | None = None
    wildcard: float | None = None
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        weight = _weight(parameters)
        if weight is None:
            continue
        if coding in ("gzip", "x-gzip"):
            named = weight if named is None else max(named, weight)
        elif coding == "*":
            wildcard = weight
    if named is not None:
        return named > 0
    return wildcard is not None and wildcard > 0


def _weight(parameters: str) -> float | None:
    """The q of one coding's parameters, 1 when there is none; None when it is not a valid q."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        # RFC 9110 12.4.2: "0" or "1" with up to three decimals, nothing else.
        if not value or len(value) > 5 or value[0] not in "01" or (len(value) > 1 and value[1] != "."):
            return None
        try:
            weight = float(value)
        except ValueError:
            return None
        return weight if 0 <= weight <= 1 else None
    return 1.0


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether If-None-Match names etag (the weak comparison RFC 9110 13.1.2 asks for) or is ``*``."""
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


class WebFiles:
    """The files under one root, read when first asked for and again whenever they change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths = dict(_files_under(root))
        self._read: dict[str, WebFile] = {}
        self._release: Release | None = None
        self._pages: dict[str, tuple[str, WebFile, WebFile]] = {}  # name: (release tag, file as read, page served)

    def __contains__(self, name: str) -> bool:
        return name in self._paths

    def get(self, name: str) -> WebFile | None:
        """The file at name (a path relative to the root, with ``/``), as it is now; None if there is none."""
        path = self._paths.get(name)
        if path is None:
            return None
        known = self._read.get(name)
        if known is not None and known.stamp == file_stamp(path) and known.stamp is not None:
            return known
        fresh = read_web_file(path)
        if fresh is None:
            self._read.pop(name, None)
        else:
            self._read[name] = fresh
        return fresh

    def release(self) -> Release:
        """Every script and style sheet as it is now (each looked at again), named as one release."""
        etags = {}
        for name in self._paths:
            if not name.endswith(".html"):
                web_file = self.get(name)
                if web_file is not None:
                    etags[name] = web_file.etag
        if self._release is None or self._release.etags != etags:
            self._release = _release_of(etags)
        return self._release

    def page(self, name: str) -> WebFile | None:
        """A page as it is now, naming the web app's files under the current release; None if there is none."""
        web_file = self.get(name)
        if web_file is None:
            return None
        release = self.release()
        known = self._pages.get(name)
        if known is not None and known[0] == release.tag and known[1] is web_file:
            return known[2]
        page = _web_file(release.names(web_file.body), Path(name).suffix, web_file.stamp)
        self._pages[name] = (release.tag, web_file, page)
        return page

    def response(self, request: web.Request, name: str, cache_control: str) -> web.Response:
        """The file for this request: gzip if the browser takes it, 304 if its copy is current; 404 if none."""
        web_file = self.page(name) if name.endswith(".html") else self.get(name)
        if web_file is None:
            raise web.HTTPNotFound()
        return _respond(request, web_file, cache_control)

    def release_response(self, request: web.Request, tag: str, name: str, cache_control: str) -> web.Response:
        """A file asked for under a release path: kept for good when it is that release's, else ``cache_control``.

        A page loaded before an upgrade may still ask for a module under its old release: it gets today's file,
        which must not be kept under that address.
        """
        web_file = None if name.endswith(".html") else self.get(name)
        if web_file is None:
            raise web.HTTPNotFound()
        release = self._release if self._release is not None and self._release.tag == tag else self.release()
        kept = release.tag == tag and release.etags.get(name) == web_file.etag
        return _respond(request, web_file, KEEP_FOR_GOOD if kept else cache_control)


def _respond(request: web.Request, web_file: WebFile, cache_control: str) -> web.Response:
    gzipped = web_file.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", ""))
    etag = web_file.gzip_etag if gzipped else web_file.etag
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if web_file.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = web_file.content_type
    return web.Response(body=web_file.gzipped if gzipped else web_file.body, headers=headers)


def _files_under(root: Path) -> list[tuple[str, Path]]:
    """Every regular file under root that is not hidden, by its name relative to root; symbolic links left out."""
    found = []
    for directory, subdirectories, files in os.walk(root, followlinks=False):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        for file in files:
            path = Path(directory) / file
            if file.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            found.append((path.relative_to(root).as_posix(), path))
    return found
