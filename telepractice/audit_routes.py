"""The audit trail a supervisor may see: who read or exported which record of the cases they supervise.

Entries hold ids only (see audit.py); the trail names the staff member who
read and the case's reference, both already known to the supervisor. Reading
the trail is itself audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import literal, or_, select

from telepractice.appkeys import AUDIT, DB
from telepractice.auth.guards import require_staff
from telepractice.cases.access import visible_cases
from telepractice.errors import InvalidField
from telepractice.openapi import ApiRoutes
from telepractice.storage.models import AuditEntry, Case, CaseSession, StaffMember, StaffRole

audit_routes = ApiRoutes("audit")
SUPERVISOR = (StaffRole.SUPERVISOR.value,)
# The actions that read personal data of a case, and what the trail calls each.
CASE_READS = {"case.read": "case-record", "case.export": "case-export"}
SESSION_READS = {"session.record.read": "session-record", "session.notes.write": "session-notes"}
MAX_ENTRIES = 500


def _moment(request: web.Request, name: str) -> dt.datetime | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidField(f"'{name}' must be an ISO 8601 time with its UTC offset, e.g. 2026-11-23T09:00:00+00:00.",
                           field=name)
    return moment


def _entry_view(entry: AuditEntry, references: dict[str, str], names: dict[str, str],
                session_cases: dict[str, str]) -> dict[str, Any]:
    kind, _, target_id = entry.target.partition(":")
    if kind == "case":
        case_id, record, session_id = target_id, CASE_READS[entry.action], None
    else:
        case_id, record, session_id = session_cases[target_id], SESSION_READS[entry.action], target_id
    staff_id = entry.actor.removeprefix("staff:")
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "staff_name": names.get(staff_id),
        "action": entry.action,
        "record": record,
        "case_reference": references[case_id],
        "session_id": session_id,
    }


@audit_routes.route("GET", "/api/audit",
                    summary="Who read or exported which record of the cases I supervise, newest first (audited)",
                    roles=SUPERVISOR,
                    responses={200: "{entries: [...]} (?case=REFERENCE&since=ISO&until=ISO, at most 500)",
                               422: "Bad time or unknown case"})
async def get_audit_trail(request: web.Request) -> web.Response:
    staff = await require_staff(request, *SUPERVISOR)
    since, until = _moment(request, "since"), _moment(request, "until")
    wanted = request.query.get("case") or None
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        cases = visible_cases(staff.staff_id, staff.role)
        if wanted is not None:
            cases = cases.where(Case.reference == wanted)
        supervised = {case.id: case.reference for case in (await session.execute(cases)).scalars()}
        if wanted is not None and not supervised:
            raise InvalidField(f"'case' names {wanted}, which is not a case you supervise.", field="case")
        sessions = select(CaseSession.id, CaseSession.case_id).where(CaseSession.case_id.in_(list(supervised)))
        session_cases = {session_id: case_id for session_id, case_id in (await session.execute(sessions)).all()}
        query = select(AuditEntry).where(or_(
            AuditEntry.action.in_(list(CASE_READS)) & AuditEntry.target.in_([f"case:{c}" for c in supervised]),
            AuditEntry.action.in_(list(SESSION_READS))
            & AuditEntry.target.in_(select(literal("session:") + CaseSession.id)
                                    .where(CaseSession.case_id.in_(list(supervised)))),
        ))
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        if until is not None:
            query = query.where(AuditEntry.at < until)
        entries = list((await session.execute(query.order_by(AuditEntry.seq.desc()).limit(MAX_ENTRIES))).scalars())
        actors = {entry.actor.removeprefix("staff:") for entry in entries}
        names = dict((await session.execute(
            select(StaffMember.id, StaffMember.display_name).where(StaffMember.id.in_(actors)))).all())
        await request.app[AUDIT].append(session, actor=staff.actor, action="audit.read", target=f"staff:{staff.staff_id}",
                                        detail={"case": wanted, "entries": len(entries)})
    views = [_entry_view(entry, supervised, names, session_cases) for entry in entries]
    return web.json_response({"entries": views, "truncated": len(entries) == MAX_ENTRIES})
