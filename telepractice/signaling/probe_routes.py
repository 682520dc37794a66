"""POST /api/probe and /api/probe/result: the connection test before joining, over HTTP.

The page authenticates as it will in ``hello`` (a family member's join token,
a staff access token naming the session, or a resume token), in the
Authorization header; the doorkeeper of the signalling service checks it the
same way, so a link that could not join cannot test either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from telepractice.appkeys import DB, PROBES, SETTINGS, SIGNALING
from telepractice.auth.guards import bearer_token, require_staff
from telepractice.errors import NotFound
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.sessions.attendance import WhoKind
from telepractice.sessions.connection_tests import Measured, Verdict, store_connection_test
from telepractice.signaling.identity import Admission
from telepractice.signaling.messages import MAX_ID_CHARS, MAX_SDP_CHARS
from telepractice.signaling.participant import Role
from telepractice.signaling.probe import ProbeLimits, ProbeService
from telepractice.signaling.service import turn_config
from telepractice.validation import Field, Schema

probe_routes = ApiRoutes("connection-test")

_SESSION = Field("session", required=False, max_length=MAX_ID_CHARS,
                 description="The session id; staff must name it, others may")
PROBE_OFFER = Schema("ProbeOffer", Field("sdp", max_length=MAX_SDP_CHARS, description="An SDP offer, every candidate in it"),
                     _SESSION)


def _figure(name: str, maximum: int, what: str) -> Field:
    return Field(name, int, required=False, nullable=True, minimum=0, maximum=maximum, description=what)


PROBE_RESULT = Schema(
    "ProbeResult",
    Field("probe", max_length=36, description="The probe id from POST /api/probe"),
    Field("verdict", choices=[str(v) for v in Verdict]),
    _figure("rtt_ms", 60_000, "Median data-channel round trip"),
    _figure("loss_permille", 1000, "Packets lost of those sent, per thousand"),
    _figure("jitter_ms", 60_000, "Jitter of the echoed video"),
    _figure("kbps", 100_000, "Video bitrate that came back"),
    _SESSION,
)


async def _admission(request: web.Request, session_id: str | None) -> Admission:
    token = bearer_token(request)

    async def staff_login(_token: str) -> str:
        return (await require_staff(request)).staff_id

    return await request.app[SIGNALING].doorkeeper.admit(token, session_id, staff_login)


def _who(admission: Admission) -> tuple[str, str]:
    return admission.identity.room_id, admission.identity.participant_id


@probe_routes.route(
    "POST", "/api/probe", body=PROBE_OFFER,
    summary="Start a connection test: an aiortc peer that echoes video and data-channel pings (join or staff token)",
    responses={200: "The answer SDP and the test's limits", 401: "Missing or refused token",
               403: "The token does not open this session", 422: "The offer could not be answered",
               429: "Too many tests running, or this person tested too often"},
)
async def start_probe(request: web.Request) -> web.Response:
    body = await read_json(request, PROBE_OFFER)
    admission = await _admission(request, body.get("session"))
    probes = request.app[PROBES]
    probe_id, answer = await probes.start(_who(admission), body["sdp"])
    limits = probes.limits
    return web.json_response({"probe": probe_id, "sdp": answer, "type": "answer",
                              "max_seconds": limits.max_seconds, "max_kbps": limits.max_kbps})


@probe_routes.route(
    "POST", "/api/probe/result", body=PROBE_RESULT,
    summary="Keep a connection test's figures and verdict with the session's attendance",
    responses={201: "Stored", 401: "Missing or refused token", 404: "No such test of yours"},
)
async def store_probe_result(request: web.Request) -> web.Response:
    body = await read_json(request, PROBE_RESULT)
    admission = await _admission(request, body.get("session"))
    if request.app[PROBES].probe_of(body["probe"], _who(admission)) is None:
        raise NotFound("There is no recent connection test of yours with this id.")
    identity = admission.identity
    kind = WhoKind.FAMILY if identity.role is Role.FAMILY else WhoKind.STAFF
    measured = Measured(Verdict(body["verdict"]), body.get("rtt_ms"), body.get("loss_permille"),
                        body.get("jitter_ms"), body.get("kbps"))
    row_id = await store_connection_test(request.app[DB], identity.room_id, identity.participant_id, kind, measured)
    return web.json_response({"id": row_id}, status=201)


async def probe_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: this server's connection tests (through its TURN, if any); every probe closed at shutdown."""
    settings = app[SETTINGS]
    service = ProbeService(ProbeLimits(max_concurrent=settings.probe_max_concurrent,
                                       max_seconds=float(settings.probe_max_seconds)),
                           turn_config=turn_config(settings))
    app[PROBES] = service
    try:
        yield
    finally:
        await service.close_all()
