"""Where HTTP meets the domain: problem-details errors, security headers, JSON bodies, access log."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger

from telepractice.appkeys import SETTINGS
from telepractice.errors import BodyTooLarge, MalformedRequest, TelepracticeError
from telepractice.validation import Schema, parse_json

log = logging.getLogger("telepractice.http")

PROBLEM_TYPE = "application/problem+json"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> web.Response:
    """An RFC 9457 problem-details response."""
    body = {"type": f"/docs/errors#{code}", "title": title, "status": status, "detail": detail, "code": code}
    body.update({key: value for key, value in extra.items() if key not in body})
    response = web.json_response(body, status=status, content_type=PROBLEM_TYPE)
    return response


def problem_from_error(error: TelepracticeError) -> web.Response:
    response = problem(error.status, error.code, error.title, error.detail, **error.extra)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="telepractice"'
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


_HTTP_CODES = {
    404: ("not-found", "There is no such resource."),
    405: ("method-not-allowed", "This method is not allowed here."),
    413: ("body-too-large", BodyTooLarge.title),
    415: ("unsupported-media-type", "The request body must be application/json."),
}


@web.middleware
async def problem_details(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turns every error into problem details, the one place errors become HTTP."""
    try:
        return await handler(request)
    except TelepracticeError as error:
        return problem_from_error(error)
    except web.HTTPException as error:
        if error.status < 400 or not request.path.startswith("/api/"):
            raise
        code, title = _HTTP_CODES.get(error.status, ("http-error", error.reason))
        return problem(error.status, code, title, title)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return problem(500, "internal-error", "The server failed.", "The server failed; nothing was changed.")


# aiohttp would name itself and Python with their versions, which tells a scanner what to try; some proxies
# (Caddy on a WebSocket upgrade) pass the header on.
SERVER_NAME = "telepractice"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, static files and WebSocket upgrades included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers[hdrs.SERVER] = SERVER_NAME
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def read_json(request: web.Request, schema: Schema) -> dict[str, Any]:
    """The request's JSON body, checked against schema; the only way handlers read bodies."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(f"The request body is larger than {request.app[SETTINGS].max_body_bytes} bytes.") from None
    if not raw:
        raise MalformedRequest("The request body is empty.")
    return schema.validate(parse_json(raw))


class AccessLogger(AbstractAccessLogger):
    """Logs method, path and status only: query strings may carry tokens and are never logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms", request.method, request.rel_url.path, response.status, time * 1000
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
