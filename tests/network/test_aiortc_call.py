"""Real calls: the app over TLS on 127.0.0.1, aiortc clients as the worker and the family, media both ways.

Every ICE host candidate is 127.0.0.1 (telepractice/testing/loopback.py) and no
ICE server is configured, so no packet leaves loopback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from telepractice.app import create_app
from telepractice.appkeys import AUDIT, DB, KEYRING, SETTINGS, SIGNALING_TIMINGS, SIGNING_KEYS
from telepractice.auth.staff import add_staff
from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.client import ClientRefused, ClientState, SessionClient
from telepractice.client_peer import MediaOptions
from telepractice.config import Settings, load_settings
from telepractice.sessions.consent import ConsentGiven, record_consent
from telepractice.sessions.invites import issue_invite
from telepractice.sessions.scheduling import schedule_session
from telepractice.signaling.service import Timings
from telepractice.storage.migrations import upgrade
from telepractice.storage.models import ConsentKind, ConsentMethod, SessionKind, StaffRole, utcnow
from telepractice.testing.held_port import held_port_socket, port_of, in_process_server
from telepractice.testing.loopback import loopback_only
from telepractice.tls import ensure_dev_certificate, server_ssl_context

pytestmark = pytest.mark.network

CALL_TIMEOUT = 15.0  # hello to frames both ways: ~0.3 s here; generous for a loaded CI machine
FRAMES = 5  # a few frames, so one lucky keyframe is not mistaken for a flowing stream


@dataclasses.dataclass(frozen=True)
class Server:
    url: str
    app: web.Application
    client_ssl: ssl.SSLContext  # trusts the server's development certificate


@dataclasses.dataclass(frozen=True)
class Session:
    """A scheduled family session: its id, staff access tokens, and two adults with consent and join links."""

    id: str
    host_token: str
    supervisor_token: str
    mother_id: str
    mother_token: str
    father_id: str
    father_token: str


@pytest.fixture(autouse=True)
def loopback() -> Iterator[None]:
    with loopback_only():
        yield


@pytest.fixture
def timings() -> Timings | None:
    """The transport's timings: the defaults, unless a test parametrizes ``timings``."""
    return None


@pytest.fixture
async def server(tmp_path: Path, timings: Timings | None) -> AsyncIterator[Server]:
    """The real app on 127.0.0.1 over TLS with its development certificate, and SQLite."""
    sock = held_port_socket()
    port = port_of(sock)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'telepractice.db'}"
    await upgrade(database_url)
    settings: Settings = load_settings({}, {
        "data_dir": str(tmp_path), "database_url": database_url, "host": "127.0.0.1", "port": port,
        "public_origin": f"https://127.0.0.1:{port}",
    })
    cert, key = ensure_dev_certificate(settings.tls_directory)
    app = create_app(settings)
    if timings is not None:
        app[SIGNALING_TIMINGS] = timings
    test_server = in_process_server(app, sock)
    await test_server.start_server(ssl=server_ssl_context(cert, key))
    try:
        yield Server(settings.public_origin, test_server.app, ssl.create_default_context(cafile=str(cert)))
    finally:
        await test_server.close()


async def log_in(server: Server, username: str, password: str) -> str:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{server.url}/api/auth/login", ssl=server.client_ssl,
                                   json={"username": username, "password": password})
        assert response.status == 200, await response.text()
        return str((await response.json())["access_token"])


@pytest.fixture
async def session(server: Server) -> Session:
    """Staff made and logged in for real; a case, its session, two parents with consent and invites."""
    app = server.app
    passwords = {role: secrets.token_urlsafe(18) for role in ("worker", "supervisor")}
    worker = await add_staff(app[DB], app[AUDIT], username="call.worker", display_name="Wanda Worker",
                             role=StaffRole.WORKER, password=passwords["worker"], actor="test")
    supervisor = await add_staff(app[DB], app[AUDIT], username="call.supervisor", display_name="Sam Supervisor",
                                 role=StaffRole.SUPERVISOR, password=passwords["supervisor"], actor="test")
    async with app[DB]() as db, db.begin():
        case, cipher = await create_case(db, app[KEYRING], reference="CALL-0001", risk_level="medium",
                                         supervisor_id=supervisor.id, worker_ids=[worker.id])
        parents = []
        for name in ("Maria Example", "Jorge Example"):
            parent = await add_participant(db, cipher, NewParticipant(display_name=name, role="guardian"))
            await record_consent(db, cipher, parent, ConsentGiven(
                kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER, text_version="test-1",
                text_hash="0" * 64, language="pt", given_by_participant_id=parent.id))
            parents.append(parent)
        scheduled = await schedule_session(db, case, kind=SessionKind.FAMILY, host_id=worker.id,
                                           planned_start=utcnow() - dt.timedelta(minutes=1))
        tokens = [(await issue_invite(db, app[SIGNING_KEYS], app[SETTINGS], scheduled, p))[1] for p in parents]
    return Session(
        scheduled.id,
        await log_in(server, "call.worker", passwords["worker"]),
        await log_in(server, "call.supervisor", passwords["supervisor"]),
        parents[0].id, tokens[0], parents[1].id, tokens[1],
    )


@pytest.fixture
async def clients() -> AsyncIterator[list[SessionClient]]:
    """Clients a test starts; all closed at the end, whatever happened."""
    started: list[SessionClient] = []
    yield started
    for client in reversed(started):
        await client.close()


async def join(clients: list[SessionClient], server: Server, token: str, session_id: str | None = None,
               **options: object) -> SessionClient:
    options.setdefault("ssl", server.client_ssl)
    client = SessionClient(server.url, token, session_id=session_id, timeout=CALL_TIMEOUT, **options)  # type: ignore[arg-type]
    clients.append(client)
    await client.connect()
    return client


async def host_and_mother_in_call(
    clients: list[SessionClient], server: Server, session: Session
) -> tuple[SessionClient, SessionClient]:
    host = await join(clients, server, session.host_token, session.id)
    assert host.role == "host"
    await host.until_admitted()
    # The family client takes the development certificate as a browser whose user accepted it would.
    mother = await join(clients, server, session.mother_token, ssl=False)
    assert mother.role == "family" and mother.state is ClientState.WAITING
    waiting = await host.until_waiting(session.mother_id)
    assert waiting["consent_ok"] is True
    host.admit(session.mother_id)
    await mother.until_admitted()
    return host, mother


async def until_media_both_ways(a: SessionClient, b: SessionClient, frames: int = FRAMES) -> None:
    assert a.participant_id and b.participant_id
    await a.until_frames(b.participant_id, frames)
    await b.until_frames(a.participant_id, frames)


async def test_worker_admits_a_parent_and_video_flows_both_ways_with_equal_safety_codes(
    server: Server, session: Session, clients: list[SessionClient]
) -> None:
    host, mother = await host_and_mother_in_call(clients, server, session)
    await until_media_both_ways(host, mother)

    host_code = await host.until_safety_code(session.mother_id)
    mother_code = await mother.until_safety_code(str(host.participant_id))
    assert host_code == mother_code
    assert len(host_code) == 7 and host_code[3] == " "
    for client, other in ((host, mother), (mother, host)):
        link = client.peers[str(other.participant_id)]
        assert link.state == "connected" and link.received["video"].size == (160, 120)
        assert not link.errors
        candidates = [line for line in link.pc.localDescription.sdp.splitlines() if line.startswith("a=candidate:")]
        assert candidates and all(line.split()[4] == "127.0.0.1" for line in candidates)
    print(f"\nhello to first remote frame: worker {host.first_frame_after_hello(session.mother_id):.3f} s, "
          f"parent {mother.first_frame_after_hello(str(host.participant_id)):.3f} s")


async def test_a_third_participant_joins_and_everyone_sees_everyone(
    server: Server, session: Session, clients: list[SessionClient]
) -> None:
    host, mother = await host_and_mother_in_call(clients, server, session)
    supervisor = await join(clients, server, session.supervisor_token, session.id,
                            media=MediaOptions(video=True, audio=True))
    assert supervisor.role == "staff"
    await supervisor.until_admitted()  # staff go straight into the call

    everyone = (host, mother, supervisor)
    for index, client in enumerate(everyone):
        for other in everyone[index + 1:]:
            await until_media_both_ways(client, other)
    await host.until_frames(str(supervisor.participant_id), FRAMES, kind="audio")  # the supervisor's microphone

    codes = set()
    for client in everyone:
        assert len(client.peers) == 2
        for peer_id in client.peers:
            other = next(c for c in everyone if c.participant_id == peer_id)
            assert client.safety_code(peer_id) == other.safety_code(str(client.participant_id))
            codes.add(client.safety_code(peer_id))
    assert len(codes) == 3, "each pair of participants has its own connection, hence its own code"
    print(f"\nhello to first remote frame, third participant: "
          f"{supervisor.first_frame_after_hello(str(host.participant_id)):.3f} s (worker), "
          f"{supervisor.first_frame_after_hello(session.mother_id):.3f} s (parent)")


async def test_a_parent_whose_socket_drops_comes_back_with_the_resume_token_without_waiting(
    server: Server, session: Session, clients: list[SessionClient]
) -> None:
    host, mother = await host_and_mother_in_call(clients, server, session)
    await until_media_both_ways(host, mother)
    assert mother.resume_token
    before = len(mother.messages)
    old_link = host.peers[session.mother_id]

    dropped_at = time.monotonic()
    mother.drop_connection()
    await mother.until(lambda: mother.connections == 2 and mother.state is ClientState.IN_CALL, what="back in call")
    # A fresh connection both ways, with frames flowing again.
    await host.until(lambda: host.peers.get(session.mother_id) not in (None, old_link), what="new link")
    await until_media_both_ways(host, mother)
    back_at = time.monotonic()

    since_drop = [m["type"] for m in list(mother.messages)[before:]]
    assert "waiting" not in since_drop and "admitted" in since_drop
    assert session.mother_id not in host.waiting_room
    assert host.safety_code(session.mother_id) == mother.safety_code(str(host.participant_id))
    print(f"\nsocket drop to frames flowing again both ways: {back_at - dropped_at:.3f} s")


async def test_the_host_turns_one_parent_away_and_ends_the_session_for_everyone(
    server: Server, session: Session, clients: list[SessionClient]
) -> None:
    host, mother = await host_and_mother_in_call(clients, server, session)
    father = await join(clients, server, session.father_token)
    await host.until_waiting(session.father_id)

    host.turn_away(session.father_id)
    await father.until(lambda: father.state is ClientState.CLOSED, what="turned away")
    assert father.ending is not None and father.ending["type"] == "turned-away"
    assert father.close_code == 4010 and father.connections == 1  # no reconnection after a final close

    host.end_session()
    for client in (host, mother):
        await client.until(lambda c=client: c.state is ClientState.CLOSED, what="session ended")
        assert client.ending is not None and client.ending["type"] == "session-ended"
        assert client.close_code == 4000 and not client.peers


async def test_a_forged_token_is_refused_at_hello_and_the_client_says_why(server: Server, session: Session) -> None:
    forged = session.mother_token[:-4] + ("AAAA" if not session.mother_token.endswith("AAAA") else "BBBB")
    with pytest.raises(ClientRefused) as refused:
        async with SessionClient(server.url, forged, ssl=server.client_ssl, timeout=CALL_TIMEOUT):
            pytest.fail("the server let a forged token in")
    assert refused.value.error is not None and refused.value.error["code"] == "not-authenticated"
    assert refused.value.close_code == 4001


async def test_a_parent_sent_back_to_the_waiting_room_is_hung_up_on_and_called_again_when_readmitted(
    server: Server, session: Session, clients: list[SessionClient]
) -> None:
    host, mother = await host_and_mother_in_call(clients, server, session)
    await until_media_both_ways(host, mother)

    host.send_to_waiting_room(session.mother_id)
    await mother.until(lambda: mother.state is ClientState.WAITING, what="sent back")
    assert mother.waiting_reason == "sent-back" and not mother.peers
    await host.until(lambda: session.mother_id not in host.peers, what="host hung up")
    await host.until_waiting(session.mother_id)

    host.admit(session.mother_id)
    await mother.until_admitted()
    await until_media_both_ways(host, mother)

    await mother.close()  # leaves on purpose: the host hangs up at once, nobody waits out a grace period
    await host.until(lambda: session.mother_id not in host.peers and session.mother_id not in host.participants,
                     what="parent left")


# 1.5 s of silence, not less: with two aiortc clients encoding video in this process, a busy CI machine once
# stalled the loop long enough that 0.6 s closed a client that was answering every ping.
@pytest.mark.parametrize("timings", [Timings(ping_interval=0.25, silence_timeout=1.5)])
async def test_clients_answer_pings_so_a_quiet_call_is_never_closed_as_silent(
    server: Server, session: Session, clients: list[SessionClient]
) -> None:
    host, mother = await host_and_mother_in_call(clients, server, session)
    await until_media_both_ways(host, mother)
    await asyncio.sleep(4.5)  # media flows peer to peer; only pongs cross the socket, for three silence timeouts

    for client in (host, mother):
        pings = [m for m in client.messages if m["type"] == "ping"]
        assert len(pings) >= 10
        assert client.connections == 1 and client.state is ClientState.IN_CALL and client.close_code is None
    assert mother.frames_from(str(host.participant_id)) > FRAMES
