"""The session record: built from attendance when a session ends, sealed per case, read through the API (audited)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import AUDIT, DB, KEYRING
from telepractice.audit import AuditLog
from telepractice.crypto.case_keys import erase_case
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance import (
    AttendanceEvent,
    AttendanceKind,
    EndReason,
    WhoKind,
)
from telepractice.sessions.attendance_store import attendance_hook, record
from telepractice.sessions.records import (
    ended_hook,
    finish_abandoned_sessions,
    finish_session,
)
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.room import Room
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    AuditEntry,
    CaseSession,
    SessionInvite,
    SessionRecord,
    SessionStatus,
)
from tests.session_data import CaseData, seed_case
from tests.staff_fixtures import LoggedInStaff, MakeStaff
from tests.unit.test_room import FakePeer

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
K = AttendanceKind


def at(minute: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minute)


async def _a_session_with_a_late_mother_and_an_absent_child(db: SessionFactory, data: CaseData) -> None:
    sid, mum, worker = data.scheduled.id, data.mother.id, data.worker.id
    await record(db, sid, [AttendanceEvent(K.ADMITTED, at(-1), worker, WhoKind.STAFF)])
    await record(db, sid, [AttendanceEvent(K.ADMITTED, at(7), mum, WhoKind.FAMILY)])
    await record(db, sid, [AttendanceEvent(K.DROPPED, at(20), mum, WhoKind.FAMILY)])
    await record(db, sid, [AttendanceEvent(K.RECONNECTED, at(21), mum, WhoKind.FAMILY)])


async def test_the_record_has_times_minutes_late_and_absent_without_anyone_typing(
    db: SessionFactory, tmp_path: Path
) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await seed_case(db, keyring, planned_start=T0)
    await _a_session_with_a_late_mother_and_an_absent_child(db, data)

    built = await finish_session(db, keyring, audit, data.scheduled.id, at(59), notes="Mãe falou da escola.")

    assert (built["planned_start"], built["planned_end"]) == (T0.isoformat(), at(60).isoformat())
    assert (built["actual_start"], built["actual_end"], built["duration_minutes"]) == (
        at(-1).isoformat(), at(59).isoformat(), 60)
    people = {p["id"]: p for p in built["participants"]}
    mum, kid, worker = people[data.mother.id], people[data.child.id], people[data.worker.id]
    assert (mum["display_name"], mum["attendance"], mum["late"], mum["minutes_late"]) == ("Ana Mãe", "attended", True, 7)
    assert mum["joined_minutes"] == 51
    assert mum["intervals"] == [{
        "started_at": at(7).isoformat(), "ended_at": at(59).isoformat(), "end_reason": "session_ended",
        "interruptions": 1, "interrupted_seconds": 60, "joined_minutes": 51,
    }]
    assert (kid["attendance"], kid["joined_minutes"], kid["intervals"]) == ("did_not_attend", 0, [])
    assert (worker["kind"], worker["late"], worker["joined_minutes"]) == ("staff", False, 60)
    assert built["late"] == [data.mother.id] and built["absent"] == [data.child.id]
    assert built["safety_alerts"] == [] and built["evaluation_answers"] == []
    assert built["notes"] == "Mãe falou da escola."

    async with db() as session:
        scheduled = await session.get(CaseSession, data.scheduled.id)
        stored = await session.get(SessionRecord, data.scheduled.id)
        entries = (await session.execute(select(AuditEntry).where(AuditEntry.action == "session.finish"))).scalars().all()
    assert scheduled is not None and scheduled.status == SessionStatus.ENDED
    assert stored is not None and stored.family_attended and stored.actual_end == at(59)
    assert b"Ana" not in stored.record_enc and b"escola" not in stored.record_enc
    assert [json.loads(entry.detail) for entry in entries] == [{"absent": 1, "case": data.case.id, "late": 1}]


async def test_finishing_twice_keeps_the_first_record(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await seed_case(db, keyring, planned_start=T0)
    first = await finish_session(db, keyring, audit, data.scheduled.id, at(50))
    again = await finish_session(db, keyring, audit, data.scheduled.id, at(70))
    assert again == first and first["actual_end"] == at(50).isoformat()


async def test_only_invited_family_members_are_expected_once_links_were_sent(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await seed_case(db, keyring, planned_start=T0)
    async with db() as session, session.begin():
        session.add(SessionInvite(session_id=data.scheduled.id, participant_id=data.mother.id, expires_at=at(90)))
    built = await finish_session(db, keyring, audit, data.scheduled.id, at(60))
    assert {p["id"] for p in built["participants"]} == {data.worker.id, data.mother.id}
    assert sorted(built["absent"]) == sorted([data.worker.id, data.mother.id])
    async with db() as session:
        stored = await session.get(SessionRecord, data.scheduled.id)
    assert stored is not None and not stored.family_attended


async def test_the_host_ending_the_room_writes_the_record(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await seed_case(db, keyring, planned_start=T0)
    sid = data.scheduled.id
    hook = attendance_hook(db, on_ended=ended_hook(db, keyring, audit))
    room = Room(sid)
    room.connect(Identity(data.worker.id, sid, Role.HOST, "W"), FakePeer("host"), 10.0)
    await hook(sid, room.take_events())
    room.end(20.0)
    await hook(sid, room.take_events())
    async with db() as session:
        stored = await session.get(SessionRecord, sid)
        scheduled = await session.get(CaseSession, sid)
    assert stored is not None and scheduled is not None and scheduled.status == SessionStatus.ENDED


async def test_a_session_everyone_left_is_finished_after_a_quiet_spell(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await seed_case(db, keyring, planned_start=T0)
    sid = data.scheduled.id
    await record(db, sid, [AttendanceEvent(K.ADMITTED, at(0), data.worker.id, WhoKind.STAFF),
                           AttendanceEvent(K.ADMITTED, at(1), data.mother.id, WhoKind.FAMILY)])
    await record(db, sid, [AttendanceEvent(K.LEFT, at(40), data.mother.id, WhoKind.FAMILY, EndReason.LEFT),
                           AttendanceEvent(K.LEFT, at(45), data.worker.id, WhoKind.STAFF, EndReason.LEFT)])
    assert await finish_abandoned_sessions(db, keyring, audit, now=at(50)) == []
    assert await finish_abandoned_sessions(db, keyring, audit, now=at(61)) == [sid]
    async with db() as session:
        stored = await session.get(SessionRecord, sid)
    assert stored is not None and stored.actual_end == at(45)


# --- the API ---------------------------------------------------------------------


async def _ended_session(app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff) -> CaseData:
    data = await seed_case(app[DB], app[KEYRING], planned_start=T0, worker=worker.member, supervisor=supervisor.member)
    await _a_session_with_a_late_mother_and_an_absent_child(app[DB], data)
    await finish_session(app[DB], app[KEYRING], app[AUDIT], data.scheduled.id, at(59))
    return data


async def test_the_case_worker_and_supervisor_read_the_record_and_each_read_is_audited(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    data = await _ended_session(app, worker, supervisor)
    for reader in (worker, supervisor):
        response = await client.get(f"/api/sessions/{data.scheduled.id}/record", headers=reader.headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["absent"] == [data.child.id] and body["case_reference"] == data.case.reference
    async with app[DB]() as session:
        reads = (await session.execute(select(AuditEntry).where(AuditEntry.action == "session.record.read"))).scalars()
        actors = sorted(entry.actor for entry in reads)
    assert actors == sorted([f"staff:{worker.member.id}", f"staff:{supervisor.member.id}"])


async def test_the_worker_writes_notes_into_the_ended_session_record(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    data = await _ended_session(app, worker, supervisor)
    url = f"/api/sessions/{data.scheduled.id}/record/notes"
    response = await client.put(url, json={"notes": "Combinámos nova sessão."}, headers=worker.headers)
    assert response.status == 200, await response.text()
    response = await client.get(f"/api/sessions/{data.scheduled.id}/record", headers=supervisor.headers)
    assert (await response.json())["notes"] == "Combinámos nova sessão."
    refused = await client.put(url, json={"notes": "x"}, headers=supervisor.headers)
    assert refused.status == 403


async def test_other_staff_unended_sessions_and_erased_cases_get_a_clear_error(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, make_staff: MakeStaff,
    staff_token,  # type: ignore[no-untyped-def]
) -> None:
    data = await _ended_session(app, worker, supervisor)
    url = f"/api/sessions/{data.scheduled.id}/record"
    _stranger, password = await make_staff("worker", "stranger")
    stranger_headers = {"Authorization": f"Bearer {await staff_token(client, 'stranger', password)}"}
    assert (await client.get(url, headers=stranger_headers)).status == 404
    assert (await client.get(url)).status == 401
    assert (await client.get("/api/sessions/no-such-session/record", headers=worker.headers)).status == 404

    pending = await seed_case(app[DB], app[KEYRING], planned_start=T0, worker=worker.member,
                              supervisor=supervisor.member)
    response = await client.get(f"/api/sessions/{pending.scheduled.id}/record", headers=worker.headers)
    assert response.status == 404 and "not ended" in (await response.json())["detail"]

    await erase_case(app[DB], app[KEYRING], app[AUDIT], data.case.id, "test")
    assert (await client.get(url, headers=worker.headers)).status == 404  # an erased case is no longer listed
