"""HTTP routes of case records: list, create, read, add family members and notes."""

from __future__ import annotations

from aiohttp import web

from telepractice.appkeys import AUDIT, DB, KEYRING
from telepractice.auth.guards import require_staff
from telepractice.cases.access import case_for_staff, visible_cases
from telepractice.cases.records import (
    LANGUAGES,
    NewParticipant,
    add_note,
    add_participant,
    audit_case,
    case_summary,
    create_case,
    participant_view,
    read_case,
)
from telepractice.crypto.case_keys import open_case
from telepractice.errors import InvalidField
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.storage.models import FamilyRole, RiskLevel, StaffRole
from telepractice.validation import Field, Schema

case_routes = ApiRoutes("cases")
CASE_STAFF = (StaffRole.WORKER.value, StaffRole.SUPERVISOR.value)

NEW_CASE = Schema(
    "NewCase",
    Field("reference", max_length=32, description="Non-identifying reference, e.g. FAM-2026-0042"),
    Field("risk_level", choices=[level.value for level in RiskLevel]),
    Field("supervisor_id", max_length=36, required=False),
    Field("worker_ids", list_of=str, max_items=20, required=False),
)
NEW_PARTICIPANT = Schema(
    "NewParticipant",
    Field("display_name", max_length=120),
    Field("role", choices=[role.value for role in FamilyRole]),
    Field("is_minor", type=bool, required=False),
    Field("guardian_id", max_length=36, required=False, nullable=True),
    Field("preferred_language", choices=LANGUAGES, required=False),
    Field("contact", max_length=200, required=False, nullable=True, description="Phone or e-mail"),
)
NEW_NOTE = Schema("NewNote", Field("body", max_length=20000))


@case_routes.route("GET", "/api/cases", summary="The cases I work on or supervise", roles=CASE_STAFF)
async def list_cases(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    async with request.app[DB]() as session:
        cases = (await session.execute(visible_cases(staff.staff_id, staff.role).order_by("reference"))).scalars()
        return web.json_response({"cases": [case_summary(case) for case in cases]})


@case_routes.route("POST", "/api/cases", summary="Open a case", body=NEW_CASE, roles=CASE_STAFF,
                   responses={201: "Created", 409: "Reference taken"})
async def open_new_case(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    body = await read_json(request, NEW_CASE)
    workers = list(body.get("worker_ids", []))
    supervisor_id = body.get("supervisor_id")
    if staff.role == StaffRole.WORKER:
        workers.append(staff.staff_id)
        if supervisor_id is None:
            raise InvalidField("'supervisor_id' is required when a worker opens a case.", field="supervisor_id")
    supervisor_id = supervisor_id or staff.staff_id
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        case, _cipher = await create_case(
            session, request.app[KEYRING], reference=body["reference"], risk_level=body["risk_level"],
            supervisor_id=supervisor_id, worker_ids=workers,
        )
        await audit_case(session, request.app[AUDIT], f"staff:{staff.staff_id}", "case.create", case)
    return web.json_response(case_summary(case), status=201)


@case_routes.route("GET", "/api/cases/{reference}", summary="Read a case record (audited)", roles=CASE_STAFF,
                   responses={200: "The record", 404: "No such case, or not yours", 410: "Erased"})
async def get_case(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        case = await case_for_staff(session, request.match_info["reference"], staff.staff_id, staff.role)
        record = await read_case(session, request.app[KEYRING], case)
        await audit_case(session, request.app[AUDIT], f"staff:{staff.staff_id}", "case.read", case)
    return web.json_response(record)


@case_routes.route("POST", "/api/cases/{reference}/participants", summary="Add a family member",
                   body=NEW_PARTICIPANT, roles=CASE_STAFF, responses={201: "Created", 404: "No such case"})
async def new_participant(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    body = await read_json(request, NEW_PARTICIPANT)
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        case = await case_for_staff(session, request.match_info["reference"], staff.staff_id, staff.role)
        cipher = await open_case(session, request.app[KEYRING], case.id)
        participant = await add_participant(session, cipher, NewParticipant(**body))
        await audit_case(session, request.app[AUDIT], f"staff:{staff.staff_id}", "case.participant.add", case,
                         participant=participant.id)
        view = participant_view(cipher, participant)
    return web.json_response(view, status=201)


@case_routes.route("POST", "/api/cases/{reference}/notes", summary="Add a note to the case record",
                   body=NEW_NOTE, roles=CASE_STAFF, responses={201: "Created", 404: "No such case"})
async def new_note(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    body = await read_json(request, NEW_NOTE)
    async with request.app[AUDIT].recording(request.app[DB]) as session:
        case = await case_for_staff(session, request.match_info["reference"], staff.staff_id, staff.role)
        cipher = await open_case(session, request.app[KEYRING], case.id)
        note = await add_note(session, cipher, staff.staff_id, body["body"])
        await audit_case(session, request.app[AUDIT], f"staff:{staff.staff_id}", "case.note.add", case, note=note.id)
    return web.json_response({"id": note.id, "created_at": note.created_at.isoformat()}, status=201)
