"""GET /ws against the real app and database: tokens, the waiting room, relays, limits, reconnection, ending."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from telepractice.app import create_app
from telepractice.appkeys import (
    ATTENDANCE_EVENTS,
    AUDIT,
    DB,
    KEYRING,
    SETTINGS,
    SIGNALING,
    SIGNALING_TIMINGS,
    SIGNING_KEYS,
)
from telepractice.auth.signing_keys import ALGORITHM
from telepractice.auth.staff import add_staff
from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.config import Settings
from telepractice.sessions.consent import ConsentGiven, record_consent
from telepractice.sessions.invites import JOIN_AUDIENCE, issue_invite
from telepractice.sessions.scheduling import schedule_session
from telepractice.signaling.room import EventKind, RoomEvent
from telepractice.signaling.service import Timings
from telepractice.storage.models import (
    ConsentKind,
    ConsentMethod,
    SessionInvite,
    SessionKind,
    StaffMember,
    StaffRole,
    utcnow,
)
from tests.staff_fixtures import LoggedInStaff, login_through_api

TIMEOUT = 10.0  # every receive is bounded; generous, since a loaded CI machine hashes passwords slowly
TURN_SECRET = "s" * 40


@dataclasses.dataclass(frozen=True)
class Family:
    """One scheduled session of a case: its id, and a guardian (consent on record) and a child (none)."""

    session_id: str
    guardian_id: str
    guardian_invite: str
    guardian_token: str
    child_id: str
    child_token: str


async def schedule_family_session(
    app: web.Application, host: StaffMember, supervisor: StaffMember, reference: str = "WS-0001"
) -> Family:
    """A case with a guardian and a child, a session hosted by ``host``, and a join link for each."""
    async with app[DB]() as session, session.begin():
        case, cipher = await create_case(
            session, app[KEYRING], reference=reference, risk_level="medium",
            supervisor_id=supervisor.id, worker_ids=[host.id],
        )
        guardian = await add_participant(session, cipher, NewParticipant(display_name="Rita Example", role="guardian"))
        child = await add_participant(session, cipher, NewParticipant(
            display_name="Tiago Example", role="child", is_minor=True, guardian_id=guardian.id))
        await record_consent(session, cipher, guardian, ConsentGiven(
            kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER, text_version="test-1", text_hash="0" * 64,
            language="pt", given_by_participant_id=guardian.id))
        scheduled = await schedule_session(
            session, case, kind=SessionKind.FAMILY, planned_start=utcnow() - dt.timedelta(minutes=5),
            host_id=host.id,
        )
        guardian_invite, guardian_token = await issue_invite(session, app[SIGNING_KEYS], app[SETTINGS], scheduled, guardian)
        _child_invite, child_token = await issue_invite(session, app[SIGNING_KEYS], app[SETTINGS], scheduled, child)
    return Family(scheduled.id, guardian.id, guardian_invite.id, guardian_token, child.id, child_token)


Connect = Callable[..., Awaitable[aiohttp.ClientWebSocketResponse]]


def connector(client: TestClient, settings: Settings) -> Connect:
    async def connect(token: str, session: str | None = None) -> aiohttp.ClientWebSocketResponse:
        path = "/ws" if session is None else f"/ws?session={session}"
        ws = await client.ws_connect(path, headers={"Origin": settings.public_origin})
        await ws.send_json({"v": 1, "type": "hello", "token": token})
        return ws

    return connect


@pytest.fixture
def connect(client: TestClient, settings: Settings) -> Connect:
    """``await connect(token, session=None)``: a socket from our own origin that has sent hello."""
    return connector(client, settings)



async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message that is not the server's ping; fails on a close or after TIMEOUT."""
    while True:
        frame = await ws.receive(timeout=TIMEOUT)
        assert frame.type is aiohttp.WSMsgType.TEXT, f"expected a message, got {frame.type} {frame.data!r}"
        message = json.loads(frame.data)
        if message["type"] != "ping":
            return message


async def receive_until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next message of ``kind``, and every message skipped on the way."""
    skipped = []
    while True:
        message = await receive(ws)
        if message["type"] == kind:
            return message, skipped
        skipped.append(message)


async def everything_pending(ws: aiohttp.ClientWebSocketResponse, nonce: int = 7) -> list[dict[str, Any]]:
    """Every message the server had queued for ``ws``: a ping round trip flushes them out."""
    await ws.send_json({"v": 1, "type": "ping", "nonce": nonce})
    pong, skipped = await receive_until(ws, "pong")
    assert pong["nonce"] == nonce
    return skipped


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read up to the close; the code of the server's close frame (the connection's close code without one)."""
    while True:
        frame = await ws.receive(timeout=TIMEOUT)
        if frame.type is aiohttp.WSMsgType.CLOSE:
            return int(frame.data)
        if frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            return ws.close_code


async def refused_with(ws: aiohttp.ClientWebSocketResponse, code: str) -> dict[str, Any]:
    error, _ = await receive_until(ws, "error")
    assert error["code"] == code, error
    return error


async def host_in_call(connect: Connect, worker: LoggedInStaff, family: Family) -> aiohttp.ClientWebSocketResponse:
    host = await connect(worker.access_token, family.session_id)
    welcome = await receive(host)
    assert welcome["type"] == "welcome" and welcome["you"]["role"] == "host"
    await receive_until(host, "admitted")
    return host


async def admitted_guardian(
    connect: Connect, host: aiohttp.ClientWebSocketResponse, family: Family
) -> aiohttp.ClientWebSocketResponse:
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    await receive_until(guardian, "admitted")
    await receive_until(host, "presence")
    return guardian


# --- joining ----------------------------------------------------------------


async def test_worker_connects_as_host(connect: Connect, worker: LoggedInStaff, family: Family) -> None:
    host = await connect(worker.access_token, family.session_id)
    welcome = await receive(host)
    assert welcome["type"] == "welcome"
    assert welcome["room"] == family.session_id
    assert welcome["you"]["id"] == worker.member.id and welcome["you"]["role"] == "host"
    assert welcome["limits"]["max_frame_bytes"] == 65536
    assert isinstance(welcome["resume"], str)
    admitted = await receive(host)
    assert admitted["type"] == "admitted" and admitted["participants"] == [] and "ice_servers" not in admitted


async def test_family_member_waits_until_admitted_and_both_get_presence(
    connect: Connect, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    welcome = await receive(guardian)
    assert welcome["you"] == {**welcome["you"], "id": family.guardian_id, "role": "family", "name": "Rita Example"}
    assert (await receive(guardian)) == {"v": 1, "type": "waiting", "reason": "awaiting-admission"}
    waiting, _ = await receive_until(host, "participant-waiting")
    assert waiting["participant"]["id"] == family.guardian_id and waiting["participant"]["consent_ok"] is True

    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    admitted, _ = await receive_until(guardian, "admitted")
    assert [view["id"] for view in admitted["participants"]] == [worker.member.id]
    assert admitted["call"] == [worker.member.id]
    joined, _ = await receive_until(host, "presence")
    assert (joined["event"], joined["participant"]["id"]) == ("joined", family.guardian_id)

    staff = await connect(supervisor.access_token, family.session_id)
    assert (await receive(staff))["you"]["role"] == "staff"
    await receive_until(staff, "admitted")
    for ws in (host, guardian):
        presence, _ = await receive_until(ws, "presence")
        assert (presence["event"], presence["participant"]["id"]) == ("joined", supervisor.member.id)


async def test_family_member_without_consent_cannot_be_admitted(
    connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    waiting, _ = await receive_until(host, "participant-waiting")
    assert waiting["participant"]["consent_ok"] is False and waiting["participant"]["is_minor"] is True
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    error = await refused_with(host, "consent-missing")
    assert error["closing"] is False and error["refused"] == "admit"


async def test_staff_of_another_case_is_refused(
    connect: Connect, client: TestClient, make_staff: Any, family: Family
) -> None:
    stranger, password = await make_staff(StaffRole.WORKER.value)
    token = (await login_through_api(client, stranger.username, password))["access_token"]
    ws = await connect(token, family.session_id)
    error = await refused_with(ws, "wrong-room")
    assert error["closing"] is True
    assert await closed_with(ws) == 4003


async def test_token_for_another_session_is_refused(
    connect: Connect, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family
) -> None:
    other = await schedule_family_session(app, worker.member, supervisor.member, reference="WS-0002")
    ws = await connect(family.guardian_token, other.session_id)
    await refused_with(ws, "wrong-room")
    assert await closed_with(ws) == 4003


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ0ZWxlcHJhY3RpY2U6am9pbiJ9."],
    ids=["garbage", "unsigned"],
)
async def test_a_bad_token_is_refused(connect: Connect, family: Family, token: str) -> None:
    ws = await connect(token)
    await refused_with(ws, "not-authenticated")
    assert await closed_with(ws) == 4001


async def test_a_revoked_link_is_refused(
    connect: Connect, app: web.Application, family: Family
) -> None:
    async with app[DB]() as session, session.begin():
        invite = await session.get(SessionInvite, family.guardian_invite)
        assert invite is not None
        invite.revoked_at = utcnow()
    ws = await connect(family.guardian_token)
    error = await refused_with(ws, "not-authenticated")
    assert "withdrawn" in error["detail"]
    assert await closed_with(ws) == 4001


async def test_staff_must_name_the_session(connect: Connect, worker: LoggedInStaff, family: Family) -> None:
    ws = await connect(worker.access_token)
    error = await refused_with(ws, "wrong-room")
    assert "?session=" in error["detail"]
    assert await closed_with(ws) == 4003


async def test_an_access_token_of_a_login_that_ended_is_refused(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    response = await client.post("/api/auth/logout", headers=worker.headers)
    assert response.status == 204, await response.text()
    ws = await connect(worker.access_token, family.session_id)
    error = await refused_with(ws, "not-authenticated")
    assert "log in again" in error["detail"]
    assert await closed_with(ws) == 4001


async def test_a_binary_frame_is_read_as_utf8_text(
    client: TestClient, settings: Settings, worker: LoggedInStaff, family: Family
) -> None:
    ws = await client.ws_connect(f"/ws?session={family.session_id}", headers={"Origin": settings.public_origin})
    await ws.send_bytes(json.dumps({"v": 1, "type": "hello", "token": worker.access_token}).encode())
    assert (await receive(ws))["type"] == "welcome"
    await ws.send_bytes(b'{"v": 1, "type": "ping", "nonce": 1}')
    assert (await receive_until(ws, "pong"))[0]["nonce"] == 1
    await ws.send_bytes(b'{"v": 1, "type": "ping", "nonce": "\xff"}')
    await refused_with(ws, "not-json")
    assert await closed_with(ws) == 1007


async def test_a_text_frame_that_is_not_utf8_is_refused_with_the_reason_then_closed(
    client: TestClient, settings: Settings, worker: LoggedInStaff, family: Family
) -> None:
    # Text frames reach the server's reader as their bytes (frame_queue.SignalingResponse): the client is told
    # why, as for any frame that is not JSON, before the close.
    ws = await client.ws_connect(f"/ws?session={family.session_id}", headers={"Origin": settings.public_origin})
    await ws.send_str(json.dumps({"v": 1, "type": "hello", "token": worker.access_token}))
    assert (await receive(ws))["type"] == "welcome"
    await ws.send_frame('{"v":1,"type":"ping","nonce":1}'.encode(), aiohttp.WSMsgType.TEXT)
    assert (await receive_until(ws, "pong"))[0]["nonce"] == 1
    await ws.send_frame(b'{"v":1,"type":"ping","nonce":"\xc3"}', aiohttp.WSMsgType.TEXT)
    error = await refused_with(ws, "not-json")
    assert "UTF-8" in error["detail"]
    assert await closed_with(ws) == 1007


async def test_wrong_origin_is_refused_before_upgrade(client: TestClient, settings: Settings) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    response = await client.get("/ws", headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert (await response.json(content_type=None))["code"] == "forbidden"


async def test_anything_but_hello_first_is_refused(client: TestClient, settings: Settings) -> None:
    ws = await client.ws_connect("/ws", headers={"Origin": settings.public_origin})
    await ws.send_json({"v": 1, "type": "ping", "nonce": 1})
    await refused_with(ws, "hello-required")
    assert await closed_with(ws) == 4001


# --- malformed frames -------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "close"),
    [
        ("{not json", "not-json", 1007),
        ('{"v": 1, "type": "ping", "nonce": 1, "nonce": 2}', "duplicate-key", 1007),
        ('{"v": 2, "type": "ping", "nonce": 1}', "unsupported-version", 4002),
        ('{"v": 1, "type": "teleport"}', "unknown-type", None),
        ('{"v": 1, "type": "ping", "nonce": 1, "from": "x"}', "unknown-field", None),
        ("[1, 2]", "not-an-object", None),
    ],
    ids=lambda value: str(value),
)
async def test_malformed_frames_get_the_documented_error_and_close_code(
    connect: Connect, worker: LoggedInStaff, family: Family, frame: str, code: str, close: int | None
) -> None:
    host = await host_in_call(connect, worker, family)
    await host.send_str(frame)
    error = await refused_with(host, code)
    assert error["closing"] is (close is not None)
    if close is None:
        assert (await everything_pending(host)) == []
    else:
        assert await closed_with(host) == close


async def test_an_oversized_frame_closes_with_1009(connect: Connect, worker: LoggedInStaff, family: Family) -> None:
    host = await host_in_call(connect, worker, family)
    await host.send_str(json.dumps({"v": 1, "type": "offer", "to": "x", "sdp": "a" * 70_000}))
    assert await closed_with(host) == 1009


async def test_a_flood_beyond_the_budget_closes_while_the_other_participant_stays(
    connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    pong = json.dumps({"v": 1, "type": "pong", "nonce": 1})
    for _ in range(200 + 101 + 20):
        await guardian.send_str(pong)
    first = await refused_with(guardian, "rate-limited")
    assert first["closing"] is False
    last = await refused_with(guardian, "too-many-messages")
    assert last["closing"] is True
    assert await closed_with(guardian) == 4029
    dropped, _ = await receive_until(host, "presence")
    assert (dropped["event"], dropped["participant"]["id"]) == ("dropped", family.guardian_id)
    await everything_pending(host)


# --- relays -----------------------------------------------------------------


async def test_offer_is_relayed_only_to_the_named_peer(
    connect: Connect, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    staff = await connect(supervisor.access_token, family.session_id)
    await receive_until(staff, "admitted")
    await host.send_json({"v": 1, "type": "offer", "to": family.guardian_id, "sdp": "v=0 offer"})
    offer, _ = await receive_until(guardian, "offer")
    assert offer == {"v": 1, "type": "offer", "from": worker.member.id, "sdp": "v=0 offer"}
    assert "offer" not in [message["type"] for message in await everything_pending(staff)]


async def test_frames_of_the_call_are_handled_in_place_and_in_order_around_control_frames(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    before = sum(connection.frames_read_in_place for connection in app[SIGNALING].connections)
    # Sent without waiting, with a WebSocket ping between: the candidates behind it wait in aiohttp's queue
    # (telepractice/signaling/frame_queue.py) and must still arrive after those before it.
    for number in range(20):
        await host.send_json({"v": 1, "type": "candidate", "to": family.guardian_id, "candidate": f"c{number}"})
    await host.ping(b"between")
    for number in range(20, 40):
        await host.send_json({"v": 1, "type": "candidate", "to": family.guardian_id, "candidate": f"c{number}"})
    relayed = [(await receive_until(guardian, "candidate"))[0]["candidate"] for _ in range(40)]
    assert relayed == [f"c{number}" for number in range(40)]
    # Most frames the room gets are handed over where they are parsed, not through a task switch.
    after = sum(connection.frames_read_in_place for connection in app[SIGNALING].connections)
    assert after - before >= 20, (before, after)
    # A refused frame read in place still gets its error, and the connection goes on.
    await host.send_json({"v": 1, "type": "candidate", "to": "nobody-here", "candidate": ""})
    error = await refused_with(host, "unknown-participant")
    assert error["refused"] == "candidate" and error["closing"] is False
    await host.send_json({"v": 1, "type": "candidate", "to": family.guardian_id, "candidate": "still relayed"})
    assert (await receive_until(guardian, "candidate"))[0]["candidate"] == "still relayed"


async def test_message_to_a_peer_in_another_room_is_refused(
    connect: Connect, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family
) -> None:
    other = await schedule_family_session(app, worker.member, supervisor.member, reference="WS-0003")
    host = await host_in_call(connect, worker, family)
    elsewhere = await connect(other.guardian_token)
    await receive_until(elsewhere, "waiting")
    await host.send_json({"v": 1, "type": "offer", "to": other.guardian_id, "sdp": "v=0"})
    error = await refused_with(host, "unknown-participant")
    assert error["closing"] is False and error["refused"] == "offer"
    assert "offer" not in [message["type"] for message in await everything_pending(elsewhere)]


# --- connections come and go ------------------------------------------------


async def test_dropped_socket_reconnects_within_grace_without_waiting_again(
    connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    await guardian.close()
    dropped, _ = await receive_until(host, "presence")
    assert dropped["event"] == "dropped"

    again = await connect(family.guardian_token)
    assert (await receive(again))["type"] == "welcome"
    admitted, skipped = await receive_until(again, "admitted")
    assert "waiting" not in [message["type"] for message in skipped]
    back, _ = await receive_until(host, "presence")
    assert (back["event"], back["participant"]["id"]) == ("reconnected", family.guardian_id)


async def test_second_connection_with_the_same_token_replaces_the_first(
    connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    second = await connect(family.guardian_token)
    await receive_until(second, "admitted")
    await receive_until(guardian, "replaced")
    assert await closed_with(guardian) == 4009
    back, _ = await receive_until(host, "presence")
    assert back["event"] == "reconnected"
    await everything_pending(second)


def expired_join_token(app: web.Application, family: Family) -> str:
    """The guardian's join token as it reads once it has expired (a minute ago)."""
    key = app[SIGNING_KEYS].current
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": app[SETTINGS].issuer, "aud": JOIN_AUDIENCE, "sub": family.guardian_id, "jti": family.guardian_invite,
        "session": family.session_id, "iat": now - dt.timedelta(hours=2), "nbf": now - dt.timedelta(hours=2),
        "exp": now - dt.timedelta(minutes=1),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})


async def test_expired_join_token_with_a_valid_resume_token_reconnects(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    resume = (await receive(guardian))["resume"]
    await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    await receive_until(guardian, "admitted")
    await guardian.close()
    for event in ("joined", "dropped"):
        assert (await receive_until(host, "presence"))[0]["event"] == event

    expired = await connect(expired_join_token(app, family))
    error = await refused_with(expired, "not-authenticated")
    assert error["detail"] == "The token has expired."
    assert await closed_with(expired) == 4001

    again = await connect(resume)
    welcome = await receive(again)
    assert welcome["you"]["id"] == family.guardian_id and welcome["you"]["role"] == "family"
    await receive_until(again, "admitted")
    back, _ = await receive_until(host, "presence")
    assert back["event"] == "reconnected"


async def test_a_resume_token_does_not_open_another_session(
    connect: Connect, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family
) -> None:
    other = await schedule_family_session(app, worker.member, supervisor.member, reference="WS-0004")
    guardian = await connect(family.guardian_token)
    resume = (await receive(guardian))["resume"]
    ws = await connect(resume, other.session_id)
    await refused_with(ws, "wrong-room")
    assert await closed_with(ws) == 4003


async def test_host_ends_session_for_everyone(connect: Connect, worker: LoggedInStaff, family: Family) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    await host.send_json({"v": 1, "type": "end-session"})
    for ws in (host, guardian, child):
        ended, _ = await receive_until(ws, "session-ended")
        assert ended["reason"] == "ended-by-host"
        assert await closed_with(ws) == 4000
    late = await connect(family.guardian_token)
    await refused_with(late, "session-ended")
    assert await closed_with(late) == 4000


async def test_leave_closes_with_1000(connect: Connect, worker: LoggedInStaff, family: Family) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    await guardian.send_json({"v": 1, "type": "leave"})
    assert await closed_with(guardian) == 1000
    left, _ = await receive_until(host, "presence")
    assert (left["event"], left["reason"]) == ("left", "left")


# --- the transport's own timers and resources ---------------------------------


async def started(aiohttp_client: Any, settings: Settings, **keys: Any) -> tuple[web.Application, TestClient]:
    """An app of our own (for timings, hooks or settings the shared fixtures do not have), started."""
    app = create_app(settings)
    for key, value in keys.items():
        app[{"timings": SIGNALING_TIMINGS, "events": ATTENDANCE_EVENTS}[key]] = value
    return app, await aiohttp_client(app)


async def staff_pair(app: web.Application, client: TestClient) -> tuple[LoggedInStaff, StaffMember]:
    member = await add_staff(app[DB], app[AUDIT], username="own.worker", display_name="Own Worker",
                             role=StaffRole.WORKER.value, password="correct horse battery staple", actor="test")
    boss = await add_staff(app[DB], app[AUDIT], username="own.supervisor", display_name="Own Supervisor",
                           role=StaffRole.SUPERVISOR.value, password="correct horse battery staple", actor="test")
    pair = await login_through_api(client, "own.worker", "correct horse battery staple")
    return LoggedInStaff(member, "", pair["access_token"], pair["refresh_token"]), boss


async def test_no_hello_in_time_closes_with_4001(aiohttp_client: Any, settings: Settings) -> None:
    _app, client = await started(aiohttp_client, settings, timings=Timings(hello_timeout=0.2))
    ws = await client.ws_connect("/ws", headers={"Origin": settings.public_origin})
    error = await refused_with(ws, "hello-required")
    assert "0.2 seconds" in error["detail"]
    assert await closed_with(ws) == 4001


async def test_server_pings_and_closes_a_silent_connection_with_4008(
    aiohttp_client: Any, settings: Settings
) -> None:
    # The silence counts from the hello, the first visit comes an interval after joining: 1.5 s leaves room for
    # two pings however long a loaded machine takes to join (0.5 s once left room for only one).
    app, client = await started(aiohttp_client, settings, timings=Timings(ping_interval=0.1, silence_timeout=1.5))
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    host = await connector(client, settings)(host_staff.access_token, family.session_id)
    pings = []
    while True:
        frame = await host.receive(timeout=TIMEOUT)
        if frame.type is not aiohttp.WSMsgType.TEXT:
            break
        message = json.loads(frame.data)
        if message["type"] == "ping":
            pings.append(message["nonce"])  # not answered, on purpose
    assert pings[:2] == [1, 2]
    assert (frame.type, frame.data) == (aiohttp.WSMsgType.CLOSE, 4008)


async def in_a_call_with_timings(
    aiohttp_client: Any, settings: Settings, timings: Timings
) -> tuple[LoggedInStaff, Family, aiohttp.ClientWebSocketResponse, aiohttp.ClientWebSocketResponse]:
    """A worker hosting and a guardian admitted, on a server with the given timings."""
    app, client = await started(aiohttp_client, settings, timings=timings)
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    connect = connector(client, settings)
    host = await connect(host_staff.access_token, family.session_id)
    await receive_until(host, "admitted")
    return host_staff, family, host, await admitted_guardian(connect, host, family)


async def test_a_connection_busy_both_ways_is_not_pinged_and_is_pinged_again_once_quiet(
    aiohttp_client: Any, settings: Settings
) -> None:
    timings = Timings(ping_interval=0.3, silence_timeout=5.0)
    host_staff, family, host, guardian = await in_a_call_with_timings(aiohttp_client, settings, timings)

    async def pings_heard(ws: aiohttp.ClientWebSocketResponse, to: str, trading: bool, seconds: float) -> int:
        """Pings answered over ``seconds``, after the first interval (a ping may be on its way as it starts)."""
        loop = asyncio.get_running_loop()
        pings, counted_from, deadline = 0, loop.time() + 0.4, loop.time() + seconds
        while loop.time() < deadline:
            if trading:
                await ws.send_json({"v": 1, "type": "candidate", "to": to, "candidate": ""})
            try:
                frame = await ws.receive(timeout=0.02)
            except TimeoutError:
                continue
            message = json.loads(frame.data)
            if message["type"] == "ping":
                pings += loop.time() >= counted_from
                await ws.send_json({"v": 1, "type": "pong", "nonce": message["nonce"]})
        return pings

    # Each side sends a candidate every ~20 ms for 2.4 s: after the first, ~6 visits of 0.3 s each, none of
    # which needs a ping (one is allowed, for a test client held up a whole interval on a busy machine).
    busy = await asyncio.gather(pings_heard(host, family.guardian_id, True, 2.4),
                                pings_heard(guardian, host_staff.member.id, True, 2.4))
    assert max(busy) <= 1, busy
    # Quiet again: pings resume.
    quiet = await asyncio.gather(pings_heard(host, family.guardian_id, False, 1.9),
                                 pings_heard(guardian, host_staff.member.id, False, 1.9))
    assert min(quiet) >= 2, quiet


async def test_a_participant_dropped_past_the_grace_period_has_left(aiohttp_client: Any, settings: Settings) -> None:
    timings = Timings(reconnect_grace=0.3, expire_interval=0.05)
    _host_staff, family, host, guardian = await in_a_call_with_timings(aiohttp_client, settings, timings)
    await guardian.close()
    dropped, _ = await receive_until(host, "presence")
    assert dropped["event"] == "dropped"
    left, _ = await receive_until(host, "presence")
    assert (left["event"], left["reason"], left["participant"]["id"]) == ("left", "timed-out", family.guardian_id)


async def test_attendance_events_reach_the_hook_with_ids_only(aiohttp_client: Any, settings: Settings) -> None:
    seen: list[tuple[str, RoomEvent]] = []

    async def record(room_id: str, events: list[RoomEvent]) -> None:
        seen.extend((room_id, event) for event in events)

    app, client = await started(aiohttp_client, settings, events=record)
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    host = await connector(client, settings)(host_staff.access_token, family.session_id)
    await receive_until(host, "admitted")
    await host.send_json({"v": 1, "type": "end-session"})
    assert await closed_with(host) == 4000
    kinds = [(room_id, event.kind, event.participant_id) for room_id, event in seen]
    assert kinds[0] == (family.session_id, EventKind.ADMITTED, host_staff.member.id)
    assert kinds[-1] == (family.session_id, EventKind.ENDED, None)


async def test_admitted_carries_turn_credentials_when_turn_is_configured(
    aiohttp_client: Any, settings: Settings
) -> None:
    with_turn = dataclasses.replace(settings, turn_secret=TURN_SECRET, turn_urls=("turn:turn.example.org:3478",))
    app, client = await started(aiohttp_client, with_turn)
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    host = await connector(client, with_turn)(host_staff.access_token, family.session_id)
    admitted, _ = await receive_until(host, "admitted")
    [server] = admitted["ice_servers"]
    assert server["urls"] == ["turn:turn.example.org:3478"]
    assert server["username"].endswith(f":{host_staff.member.id}") and server["credential"]


async def test_shutdown_closes_every_socket_with_1001(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    await app.shutdown()
    assert await closed_with(host) == 1001


@web.middleware
async def narrow_send_buffers(request: web.Request, handler: Any) -> web.StreamResponse:
    """A server socket with a 4 KiB kernel send buffer (no autotuning): a client that stops reading backs up fast."""
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return await handler(request)


async def test_a_client_that_stops_reading_is_closed_with_1011_and_the_others_stay(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings)
    app.middlewares.append(narrow_send_buffers)
    app[SIGNALING_TIMINGS] = Timings(outbox_limit=4)
    client = await aiohttp_client(app)
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    connect = connector(client, settings)
    host = await host_in_call(connect, host_staff, family)
    guardian = await admitted_guardian(connect, host, family)
    host_socket = host.get_extra_info("socket")
    host_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # The host's page stops reading (a frozen tab): aiohttp's client reads 64 KiB ahead, then the kernel
    # buffers on both sides fill, then the server's transport, then the outbox. 20 offers of 40 KB is
    # 800 KB, within the guardian's byte burst (1 MiB).
    for _ in range(20):
        await guardian.send_json({"v": 1, "type": "offer", "to": host_staff.member.id, "sdp": "v=0 " + "a" * 40_000})
    assert await closed_with(host) == 1011
    # The one who kept up is still served: the host's departure reaches them.
    left, _ = await receive_until(guardian, "presence")
    assert left["event"] in ("dropped", "left") and left["participant"]["id"] == host_staff.member.id


# --- what the sessions layer tells the rooms ----------------------------------


async def test_consent_recorded_while_waiting_reaches_the_host(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    before, _ = await receive_until(host, "participant-waiting")
    assert before["participant"]["consent_ok"] is False
    await app[SIGNALING].consent_changed(family.session_id, family.child_id, True)
    after, _ = await receive_until(host, "participant-waiting")
    assert (after["participant"]["id"], after["participant"]["consent_ok"]) == (family.child_id, True)
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await receive_until(child, "admitted")


async def test_consent_withdrawn_takes_the_person_out_of_the_call(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    await app[SIGNALING].consent_changed(family.session_id, family.guardian_id, False)
    removed, _ = await receive_until(guardian, "removed")
    assert removed["reason"] == "consent-withdrawn"
    assert await closed_with(guardian) == 4011
    left, _ = await receive_until(host, "presence")
    assert (left["event"], left["reason"]) == ("left", "consent-withdrawn")


async def test_a_session_ended_by_the_sessions_layer_closes_every_connection(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    await app[SIGNALING].end_session(family.session_id)
    for ws in (host, child):
        ended, _ = await receive_until(ws, "session-ended")
        assert ended["reason"] == "ended"
        assert await closed_with(ws) == 4000
