"""The session record shows the connection tests taken for the session and the side-room moves, from a real room."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestClient

from telepractice.appkeys import AUDIT, DB, KEYRING
from telepractice.sessions.attendance import WhoKind
from telepractice.sessions.attendance_store import attendance_hook
from telepractice.sessions.connection_tests import Measured, Verdict, store_connection_test
from telepractice.sessions.records import ended_hook
from telepractice.signaling.messages import parse
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.room import Room
from tests.session_data import seed_case
from tests.staff_fixtures import LoggedInStaff
from tests.unit.test_room import FakePeer


def say(room: Room, peer: FakePeer, now: float, kind: str, **fields: object) -> None:
    room.receive(peer, parse(json.dumps({"v": 1, "type": kind, **fields})), now)


async def test_the_record_lists_each_connection_test_and_who_was_taken_aside_and_brought_back(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    data = await seed_case(app[DB], app[KEYRING], worker=worker.member, supervisor=supervisor.member)
    sid, mum, child = data.scheduled.id, data.mother.id, data.child.id
    await store_connection_test(app[DB], sid, mum, WhoKind.FAMILY, Measured(Verdict.AUDIO_ONLY, 180, 123, 30, 140))
    await store_connection_test(app[DB], sid, worker.member.id, WhoKind.STAFF, Measured(Verdict.GOOD, 12, 0, 2, 900))
    await store_connection_test(app[DB], sid, child, WhoKind.FAMILY, Measured(Verdict.NO_CONNECTION))

    hook = attendance_hook(app[DB], on_ended=ended_hook(app[DB], app[KEYRING], app[AUDIT]))
    room = Room(sid)
    host, mother, boy = FakePeer("host"), FakePeer("mum"), FakePeer("child")
    room.connect(Identity(worker.member.id, sid, Role.HOST, "W"), host, 10.0)
    for pid, peer in ((mum, mother), (child, boy)):
        room.connect(Identity(pid, sid, Role.FAMILY, pid, consent_ok=True), peer, 11.0)
        say(room, host, 12.0, "admit", participant=pid)
    await hook(sid, room.take_events())
    say(room, host, 100.0, "side-room-create", participants=[worker.member.id, child])
    await hook(sid, room.take_events())
    say(room, host, 400.0, "side-room-return", participants=[child, worker.member.id])
    await hook(sid, room.take_events())
    room.end(900.0)
    await hook(sid, room.take_events())

    response = await client.get(f"/api/sessions/{sid}/record", headers=worker.headers)
    assert response.status == 200, await response.text()
    record = await response.json()
    tests = record["connection_tests"]
    assert [(t["who"], t["who_kind"], t["verdict"]) for t in tests] == [
        (mum, "family", "audio-only"), (worker.member.id, "staff", "good"), (child, "family", "no-connection")]
    assert (tests[0]["rtt_ms"], tests[0]["loss_percent"], tests[0]["jitter_ms"], tests[0]["kbps"]) == (180, 12.3, 30, 140)
    assert tests[2]["rtt_ms"] is None and tests[2]["at"]
    moves = record["side_room_moves"]
    assert [(m["who"], m["event"]) for m in moves] == [
        (worker.member.id, "moved_aside"), (child, "moved_aside"), (child, "brought_back"),
        (worker.member.id, "brought_back")]
    assert moves[0]["at"] < moves[2]["at"]
    # Being taken aside is not leaving: the child's presence stays one interval, not interrupted.
    [boy_row] = [p for p in record["participants"] if p["id"] == child]
    assert len(boy_row["intervals"]) == 1 and boy_row["intervals"][0]["interruptions"] == 0
