"""create_app(): routes, middlewares, one cleanup context per resource, the static web app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from telepractice import __version__
from telepractice.appkeys import (ATTENDANCE_EVENTS, AUDIT, DB, ENGINE, KEYRING, SETTINGS, SIGNALING, SIGNING_KEYS,
                                  WEB_FILES)
from telepractice.audit import AuditLog
from telepractice.audit_routes import audit_routes
from telepractice.auth.routes import auth_routes, staff_routes
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.cases.overview import overview_routes
from telepractice.cases.routes import case_routes
from telepractice.config import Settings
from telepractice.crypto.case_keys import reapply_erasures
from telepractice.crypto.keyring import Keyring
from telepractice.http import add_security_headers, problem_details
from telepractice.openapi import ApiRoutes, openapi_document
from telepractice.sessions.alert_routes import alert_routes
from telepractice.sessions.attendance_service import AttendanceService
from telepractice.sessions.evaluation_routes import evaluation_routes
from telepractice.sessions.join_routes import join_routes
from telepractice.sessions.routes import session_routes
from telepractice.sessions.schedule_routes import schedule_routes
from telepractice.sessions.session_clock import session_clock_context
from telepractice.signaling.probe_routes import probe_context, probe_routes
from telepractice.signaling.service import close_sockets, signaling_context
from telepractice.signaling.websocket import signaling_routes
from telepractice.storage.engine import database_reachable, make_engine, make_session_factory
from telepractice.web_files import RELEASE_PATTERN, WebFiles

log = logging.getLogger("telepractice")

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

system_routes = ApiRoutes("system")
# overview_routes before case_routes: aiohttp tries routes in order, and /api/cases/{reference} would take "overview".
ROUTE_SETS: tuple[ApiRoutes, ...] = (system_routes, auth_routes, staff_routes, overview_routes, case_routes,
                                      session_routes, signaling_routes, probe_routes, alert_routes, evaluation_routes,
                                      schedule_routes, join_routes, audit_routes)


@system_routes.route("GET", "/healthz", summary="Whether the server and its database are up",
                     responses={200: "Healthy", 503: "Database unreachable"})
async def healthz(request: web.Request) -> web.Response:
    reachable = await database_reachable(request.app[ENGINE])
    body = {"status": "ok" if reachable else "degraded", "database": reachable, "version": __version__}
    return web.json_response(body, status=200 if reachable else 503)


@system_routes.route("GET", "/api/openapi.json", summary="This document")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(ROUTE_SETS, request.app[SETTINGS].public_origin))


# Outside a page's release path (web_files.py), a browser keeps the scripts and style sheets but asks each time
# whether they changed (a 304 when not): after an upgrade no page runs with last version's modules.
STATIC_CACHING = "no-cache"


async def _index(request: web.Request) -> web.Response:
    return request.app[WEB_FILES].response(request, "index.html", STATIC_CACHING)


async def _static(request: web.Request) -> web.Response:
    return request.app[WEB_FILES].response(request, request.match_info["name"], STATIC_CACHING)


async def _released(request: web.Request) -> web.Response:
    """A script or style sheet under the release path the pages name it by: kept for good when current."""
    match = request.match_info
    return request.app[WEB_FILES].release_response(request, match["release"], match["name"], STATIC_CACHING)


def _page(request: web.Request, name: str) -> web.Response:
    """A page of the web app, never kept in the HTTP cache: a session page must not outlive a quick exit there."""
    return request.app[WEB_FILES].response(request, name, "no-store")


@system_routes.route("GET", "/join", summary="A family member's personal link: language, consent, camera check "
                     "(token in the fragment)", responses={200: "HTML page"})
async def _join_page(request: web.Request) -> web.Response:
    """GET /join: the family's steps before the call; the token rides in the fragment."""
    return _page(request, "join.html")


@system_routes.route("GET", "/exit", summary="The neutral page a quick exit lands on", responses={200: "HTML page"})
async def _exit_page(request: web.Request) -> web.Response:
    """GET /exit: a blank page that says nothing of what was open before."""
    return _page(request, "exit.html")


@system_routes.route("GET", "/goodbye", summary="The family's last page, after the evaluation", responses={200: "HTML page"})
async def _goodbye_page(request: web.Request) -> web.Response:
    """GET /goodbye: thank you and what happens next, once a family member's session is over."""
    return _page(request, "goodbye.html")


@system_routes.route("GET", "/call", summary="The call page (token in the fragment)",
                     responses={200: "HTML page"})
async def _call_page(request: web.Request) -> web.Response:
    """GET /call: the call page, for staff and for a family member after the join steps; its token rides in the fragment."""
    return _page(request, "call.html")


@system_routes.route("GET", "/console", summary="The staff console: login, cases, sessions, records, supervision",
                     responses={200: "HTML page"})
async def _console_page(request: web.Request) -> web.Response:
    """GET /console: one page for workers and supervisors; never cached, as it runs a login."""
    return _page(request, "console.html")


def _database(app: web.Application):  # type: ignore[no-untyped-def]
    async def context(app: web.Application) -> AsyncIterator[None]:
        engine = make_engine(app[SETTINGS].database_url)
        app[ENGINE] = engine
        app[DB] = make_session_factory(engine)
        yield
        await engine.dispose()

    return context


async def _keys(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[KEYRING] = Keyring(settings.key_directory)
    app[SIGNING_KEYS] = SigningKeyring(settings.key_directory, settings)
    yield


async def _reapply_erasures(app: web.Application) -> AsyncIterator[None]:
    """A database restored from a backup older than an erasure must not bring that case back."""
    reapplied = await reapply_erasures(app[DB], app[KEYRING], app[AUDIT])
    if reapplied:
        log.warning("re-applied %d case erasure(s) missing from the database", len(reapplied))
    yield


async def _attendance(app: web.Application) -> AsyncIterator[None]:
    """Attendance beside the rooms: recovery after a crash, heartbeats, records of ended sessions."""

    def live_sessions() -> list[str]:
        service = app.get(SIGNALING)
        return [] if service is None else [room.room_id for room in service.registry]

    service = AttendanceService(app[DB], app[KEYRING], app[AUDIT], live_sessions=live_sessions)
    recovered = await service.start()
    if recovered:
        log.warning("closed %d presence(s) left open by a previous run at their last heartbeat", recovered)
    if ATTENDANCE_EVENTS not in app:  # tests may hand in a hook of their own
        app[ATTENDANCE_EVENTS] = service.hook
    yield
    await service.stop()


def create_app(settings: Settings) -> web.Application:
    """The whole application for one Settings; no module-level state."""
    app = web.Application(middlewares=[problem_details], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[AUDIT] = AuditLog()
    app.cleanup_ctx.append(_database(app))
    app.cleanup_ctx.append(_keys)
    app.cleanup_ctx.append(_reapply_erasures)
    app.cleanup_ctx.append(_attendance)
    # Signalling: the rooms and their timer after the database and keys; sockets closed before handlers are awaited.
    app.cleanup_ctx.append(signaling_context)
    app.on_shutdown.append(close_sockets)
    app.cleanup_ctx.append(session_clock_context)  # after signalling: it warns the hosts of its rooms
    app.cleanup_ctx.append(probe_context)  # after signalling: its doorkeeper checks the tokens
    app.on_response_prepare.append(add_security_headers)
    for routes in ROUTE_SETS:
        app.router.add_routes(routes.table)
    app.router.add_get("/", _index)
    app[WEB_FILES] = WebFiles(WEB_ROOT)
    # Before /static/{name}: routes match in the order they were added.
    app.router.add_get("/static/v/{release:" + RELEASE_PATTERN + "}/{name:.+}", _released)
    app.router.add_get("/static/{name:.+}", _static)
    return app
