"""HTTP routes of sessions: the session record, its notes and saved chat, the contact report, who did not attend."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.appkeys import AUDIT, DB, KEYRING, SETTINGS
from telepractice.auth.guards import require_staff
from telepractice.cases.access import visible_cases
from telepractice.crypto.case_keys import open_case
from telepractice.errors import InvalidField, NotFound
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.sessions.chat_record import TRANSCRIPT, chat_saver, save_chat
from telepractice.sessions.contacts import contacts_report
from telepractice.sessions.follow_ups import did_not_attend
from telepractice.sessions.records import read_record, refresh_record_parts, set_notes
from telepractice.storage.models import Case, CaseSession, StaffRole, utcnow
from telepractice.validation import Field, Schema

session_routes = ApiRoutes("sessions")
CASE_STAFF = (StaffRole.WORKER.value, StaffRole.SUPERVISOR.value)
NOTES = Schema("SessionNotes", Field("notes", max_length=20000))


async def case_of_session(session: AsyncSession, session_id: str, staff_id: str, role: str) -> tuple[CaseSession, Case]:
    """The session and its case, or NotFound alike for a missing session and another team's."""
    scheduled = await session.get(CaseSession, session_id)
    case = None
    if scheduled is not None:
        query = visible_cases(staff_id, role).where(Case.id == scheduled.case_id)
        case = (await session.execute(query)).scalar_one_or_none()
    if scheduled is None or case is None:
        raise NotFound()
    return scheduled, case


@session_routes.route("GET", "/api/sessions/{session_id}/record", summary="The record of an ended session (audited)",
                      roles=CASE_STAFF,
                      responses={200: "The record", 404: "No such session, not yours, or not ended", 410: "Erased"})
async def get_record(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    session_id = request.match_info["session_id"]
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        _scheduled, case = await case_of_session(session, session_id, staff.staff_id, staff.role)
        record = await read_record(session, request.app[KEYRING], session_id)
        await request.app[AUDIT].append(session, actor=staff.actor, action="session.record.read",
                                        target=f"session:{session_id}", detail={"case": case.id})
    return web.json_response(record)


@session_routes.route("PUT", "/api/sessions/{session_id}/record/notes", summary="Write the worker's notes of a session",
                      body=NOTES, roles=(StaffRole.WORKER.value,),
                      responses={200: "The record", 404: "No such session, not yours, or not ended", 410: "Erased"})
async def put_notes(request: web.Request) -> web.Response:
    staff = await require_staff(request, StaffRole.WORKER.value)
    body = await read_json(request, NOTES)
    session_id = request.match_info["session_id"]
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        _scheduled, case = await case_of_session(session, session_id, staff.staff_id, staff.role)
        record = await set_notes(session, request.app[KEYRING], session_id, body["notes"])
        await request.app[AUDIT].append(session, actor=staff.actor, action="session.notes.write",
                                        target=f"session:{session_id}", detail={"case": case.id})
    return web.json_response(record)


@session_routes.route(
    "POST", "/api/sessions/{session_id}/record/chat",
    summary="Save the session's text chat to the case record, sealed with the case key (audited); a staff access "
            "token or the call's resume token",
    body=TRANSCRIPT, roles=CASE_STAFF,
    responses={200: "The chat as saved in the record", 404: "No such session, or not of your cases",
               410: "Erased", 413: "Larger than the server accepts", 422: "A malformed line"},
)
async def post_chat(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    staff_id, role = await chat_saver(request, session_id, CASE_STAFF)
    body = await read_json(request, TRANSCRIPT)
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        _scheduled, case = await case_of_session(session, session_id, staff_id, role)
        cipher = await open_case(session, request.app[KEYRING], case.id)
        chat = await save_chat(session, cipher, session_id, case.id, staff_id, body["lines"])
        await refresh_record_parts(session, request.app[KEYRING], session_id)
        await request.app[AUDIT].append(session, actor=f"staff:{staff_id}", action="session.chat.save",
                                        target=f"session:{session_id}",
                                        detail={"case": case.id, "lines": len(chat["lines"])})
    return web.json_response(chat)


MAX_REPORT_WEEKS = 52


def _weeks(request: web.Request) -> int:
    raw = request.query.get("weeks", "4")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPORT_WEEKS:
        raise InvalidField(f"'weeks' must be a whole number from 1 to {MAX_REPORT_WEEKS}.", field="weeks")
    return int(raw)


@session_routes.route("GET", "/api/reports/contacts", summary="Contacts held versus required, per case and week",
                      roles=CASE_STAFF, responses={200: "The report (?weeks=1..52, default 4)", 422: "Bad weeks"})
async def get_contacts_report(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    rows = await contacts_report(request.app[DB], request.app[SETTINGS], weeks=_weeks(request),
                                 staff_id=staff.staff_id, role=staff.role)
    return web.json_response({
        "weeks": [row.as_dict() for row in rows],
        "behind": sorted({row.reference for row in rows if row.behind and row.week_complete}),
    })


@session_routes.route("GET", "/api/reports/did-not-attend",
                      summary="Family members absent from my cases' sessions, to follow up (audited)", roles=CASE_STAFF,
                      responses={200: "Sessions with someone absent (?weeks=1..52, default 4)", 422: "Bad weeks"})
async def get_did_not_attend(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    since = utcnow() - dt.timedelta(weeks=_weeks(request))
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        cases = list((await session.execute(visible_cases(staff.staff_id, staff.role))).scalars())
        found = await did_not_attend(session, request.app[KEYRING], cases, since)
        await request.app[AUDIT].append(session, actor=staff.actor, action="report.did-not-attend.read",
                                        target=f"staff:{staff.staff_id}", detail={"sessions": len(found)})
    return web.json_response({"sessions": found})
