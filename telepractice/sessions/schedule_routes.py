"""HTTP routes of planning sessions: schedule, reschedule, cancel, list; personal links; consent taken by phone.

Workers plan sessions of the cases they work on; supervisors read them. Every
change is audited with ids only. Cancelling a live session ends its room for
everyone; consent recorded or withdrawn here reaches the live rooms at once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.appkeys import AUDIT, DB, KEYRING, SETTINGS, SIGNALING, SIGNING_KEYS
from telepractice.auth.guards import StaffPrincipal, require_staff
from telepractice.cases.access import case_for_staff, visible_cases
from telepractice.crypto.case_keys import open_case
from telepractice.errors import Conflict, Forbidden, InvalidField, NotFound
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.sessions import consent_gate
from telepractice.sessions.consent import note_withdrawal, standing_records
from telepractice.sessions.consent_texts import (
    CURRENT_VERSION,
    LANGUAGES,
    Audience,
    consent_text,
    language_for,
)
from telepractice.sessions.invites import GRACE_AFTER_END, issue_invite, join_link
from telepractice.sessions.join import hash_join_code, new_join_code
from telepractice.sessions.routes import case_of_session
from telepractice.sessions.scheduling import (
    DEFAULT_MINUTES,
    OPEN,
    cancel,
    check_future,
    parse_start,
    planned_end,
    reschedule,
    schedule_session,
)
from telepractice.storage.models import (
    Case,
    CaseSession,
    ConsentKind,
    FamilyParticipant,
    SessionCaseLink,
    SessionInvite,
    SessionKind,
    SessionStatus,
    StaffRole,
    utcnow,
)
from telepractice.validation import Field, Schema

schedule_routes = ApiRoutes("scheduling")
CASE_STAFF = (StaffRole.WORKER.value, StaffRole.SUPERVISOR.value)
WORKER = (StaffRole.WORKER.value,)

START = Field("planned_start", max_length=40, description="ISO 8601 with its UTC offset")
MINUTES = Field("planned_minutes", type=int, required=False, minimum=15, maximum=180,
                description=f"Family 45-90 (default {DEFAULT_MINUTES}); others 15-180")
NEW_SESSION = Schema(
    "NewSession",
    Field("kind", choices=[kind.value for kind in SessionKind]),
    START,
    MINUTES,
    Field("participant", max_length=36, required=False, description="Individual sessions: the family member"),
    Field("linked_cases", list_of=str, max_items=20, required=False,
          description="Case discussions: references of further cases it is about"),
)
RESCHEDULE = Schema("Reschedule", Field("planned_start", max_length=40, required=False,
                                        description="ISO 8601 with its UTC offset"), MINUTES)
NEW_INVITES = Schema(
    "NewInvites",
    Field("participants", list_of=str, max_items=20, required=False,
          description="Whom to invite (default: every family member the session is for)"),
    Field("join_code", type=bool, required=False, description="Also require a 6-digit code given by phone"),
)
EMPTY = Schema("Empty")
STAFF_WITHDRAWAL = Schema(
    "StaffWithdrawal",
    Field("note", max_length=2000, required=False,
          description="How and when the person withdrew (kept encrypted with the case record)"),
)
STAFF_CONSENT = Schema(
    "StaffConsent",
    Field("kind", choices=[kind.value for kind in ConsentKind]),
    Field("note", max_length=2000, description="How and when the person consented"),
    Field("language", choices=LANGUAGES, required=False, description="The language the text was read in"),
    Field("version", max_length=32, required=False, description=f"The text version (default {CURRENT_VERSION})"),
)


def session_view(scheduled: CaseSession, reference: str, linked: list[str],
                 invites: list[SessionInvite]) -> dict[str, Any]:
    return {
        "id": scheduled.id,
        "case": reference,
        "kind": scheduled.kind,
        "status": scheduled.status,
        "planned_start": scheduled.planned_start.isoformat(),
        "planned_end": planned_end(scheduled).isoformat(),
        "planned_minutes": scheduled.planned_minutes,
        "host_id": scheduled.host_id,
        "participant": scheduled.participant_id,
        "linked_cases": linked,
        "cancelled_at": None if scheduled.cancelled_at is None else scheduled.cancelled_at.isoformat(),
        "invites": [invite_view(invite) for invite in invites],
    }


def invite_view(invite: SessionInvite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "participant": invite.participant_id,
        "expires_at": invite.expires_at.isoformat(),
        "revoked": invite.revoked_at is not None,
        "join_code": invite.join_code_hash is not None,
        "locked": invite.locked_at is not None,
    }


async def _view(session: AsyncSession, scheduled: CaseSession) -> dict[str, Any]:
    reference = await session.scalar(select(Case.reference).where(Case.id == scheduled.case_id))
    linked = await session.execute(
        select(Case.reference).join(SessionCaseLink, SessionCaseLink.case_id == Case.id)
        .where(SessionCaseLink.session_id == scheduled.id).order_by(Case.reference)
    )
    invites = await session.execute(
        select(SessionInvite).where(SessionInvite.session_id == scheduled.id).order_by(SessionInvite.expires_at)
    )
    return session_view(scheduled, str(reference), list(linked.scalars()), list(invites.scalars()))


async def _family_member(session: AsyncSession, case: Case, participant_id: str, field: str) -> FamilyParticipant:
    person = await session.get(FamilyParticipant, participant_id)
    if person is None or person.case_id != case.id:
        raise InvalidField(f"'{field}' must name a family member of case {case.reference}.", field=field)
    return person


async def _planned(session: AsyncSession, staff: StaffPrincipal, case: Case, body: dict[str, Any]) -> CaseSession:
    kind, minutes = body["kind"], body.get("planned_minutes", DEFAULT_MINUTES)
    start = parse_start(body["planned_start"])
    check_future(start, minutes, utcnow())
    participant_id = body.get("participant")
    if (kind == SessionKind.INDIVIDUAL) != (participant_id is not None):
        raise InvalidField("An individual session, and only one, names its 'participant'.", field="participant")
    if participant_id is not None:
        await _family_member(session, case, participant_id, "participant")
    if body.get("linked_cases") and kind != SessionKind.CASE_DISCUSSION:
        raise InvalidField("Only a case discussion links further cases.", field="linked_cases")
    scheduled = await schedule_session(session, case, kind=kind, planned_start=start, host_id=staff.staff_id,
                                       planned_minutes=minutes, participant_id=participant_id)
    for reference in sorted(set(body.get("linked_cases", [])) - {case.reference}):
        query = visible_cases(staff.staff_id, staff.role).where(Case.reference == reference)
        linked = (await session.execute(query)).scalar_one_or_none()
        if linked is None:
            raise InvalidField(f"'linked_cases' names {reference}, which is not one of your cases.",
                               field="linked_cases")
        session.add(SessionCaseLink(session_id=scheduled.id, case_id=linked.id))
    await session.flush()
    return scheduled


@schedule_routes.route("POST", "/api/cases/{reference}/sessions",
                       summary="Schedule a session of a case I work on (supervisors: case discussions only)",
                       body=NEW_SESSION, roles=CASE_STAFF,
                       responses={201: "The session", 404: "No such case, or not yours"})
async def post_session(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    body = await read_json(request, NEW_SESSION)
    if staff.role == StaffRole.SUPERVISOR and body["kind"] != SessionKind.CASE_DISCUSSION:
        # Supervisors hold the staff-only discussions; the family's sessions are their workers' to plan.
        raise Forbidden("A supervisor schedules case discussions only; family sessions are planned by their worker.")
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        case = await case_for_staff(session, request.match_info["reference"], staff.staff_id, staff.role)
        scheduled = await _planned(session, staff, case, body)
        await app[AUDIT].append(session, actor=staff.actor, action="session.schedule", target=f"session:{scheduled.id}",
                                detail={"case": case.id, "kind": scheduled.kind})
        view = await _view(session, scheduled)
    return web.json_response(view, status=201)


@schedule_routes.route("GET", "/api/cases/{reference}/sessions", summary="The sessions of a case, newest first",
                       roles=CASE_STAFF, responses={200: "{sessions: [...]}", 404: "No such case, or not yours"})
async def get_sessions(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    async with request.app[DB]() as session:
        case = await case_for_staff(session, request.match_info["reference"], staff.staff_id, staff.role)
        linked = select(SessionCaseLink.session_id).where(SessionCaseLink.case_id == case.id)
        rows = await session.execute(
            select(CaseSession).where(or_(CaseSession.case_id == case.id, CaseSession.id.in_(linked)))
            .order_by(CaseSession.planned_start.desc())
        )
        views = [await _view(session, scheduled) for scheduled in rows.scalars()]
    return web.json_response({"sessions": views})


async def _worker_session(session: AsyncSession, request: web.Request, staff: StaffPrincipal) -> tuple[CaseSession, Case]:
    return await case_of_session(session, request.match_info["session_id"], staff.staff_id, staff.role)


@schedule_routes.route("POST", "/api/sessions/{session_id}/reschedule",
                       summary="Move a planned session, or change its length (a live one only its length)",
                       body=RESCHEDULE, roles=WORKER,
                       responses={200: "The session; links that no longer cover it are revoked",
                                  404: "No such session, or not yours", 409: "Ended, cancelled, or live and moved"})
async def post_reschedule(request: web.Request) -> web.Response:
    staff = await require_staff(request, *WORKER)
    body = await read_json(request, RESCHEDULE)
    start = None if "planned_start" not in body else parse_start(body["planned_start"])
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        scheduled, case = await _worker_session(session, request, staff)
        reschedule(scheduled, start, body.get("planned_minutes"))
        check_future(scheduled.planned_start, scheduled.planned_minutes, utcnow())
        revoked: list[tuple[str, str]] = []
        # A live session only grows or shrinks: the people in it stay, and come back after a drop on their
        # resume token, which follows the new end. Revoking their links would send them out mid-session.
        if scheduled.status != SessionStatus.LIVE:
            # A link's token carries its expiry; a link that would die before the new end is replaced, not stretched.
            stale = await session.execute(
                update(SessionInvite)
                .where(SessionInvite.session_id == scheduled.id, SessionInvite.revoked_at.is_(None),
                       SessionInvite.expires_at < planned_end(scheduled) + GRACE_AFTER_END)
                .values(revoked_at=utcnow())
                .returning(SessionInvite.participant_id, SessionInvite.id)
            )
            revoked = [(participant_id, invite_id) for participant_id, invite_id in stale.all()]
        reissue = sorted({participant_id for participant_id, _ in revoked})
        await app[AUDIT].append(session, actor=staff.actor, action="session.reschedule",
                                target=f"session:{scheduled.id}", detail={"case": case.id, "links_revoked": len(reissue)})
        view = await _view(session, scheduled)
    # Someone already waiting on a link that no longer covers the session must not stay on it.
    for participant_id, invite_id in revoked:
        await app[SIGNALING].invite_revoked(scheduled.id, participant_id, invite_id)
    return web.json_response({**view, "links_to_reissue": reissue})


@schedule_routes.route("POST", "/api/sessions/{session_id}/cancel",
                       summary="Cancel a session; a live one ends for everyone at once", body=EMPTY, roles=WORKER,
                       responses={200: "The session", 404: "No such session, or not yours",
                                  409: "Already ended or cancelled"})
async def post_cancel(request: web.Request) -> web.Response:
    staff = await require_staff(request, *WORKER)
    await read_json(request, EMPTY)
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        scheduled, case = await _worker_session(session, request, staff)
        now = utcnow()
        cancel(scheduled, now)
        await session.execute(
            update(SessionInvite)
            .where(SessionInvite.session_id == scheduled.id, SessionInvite.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await app[AUDIT].append(session, actor=staff.actor, action="session.cancel", target=f"session:{scheduled.id}",
                                detail={"case": case.id})
        view = await _view(session, scheduled)
    await app[SIGNALING].end_session(scheduled.id)
    return web.json_response(view)


# --- personal links -----------------------------------------------------------


async def _invitees(session: AsyncSession, scheduled: CaseSession, case: Case,
                    wanted: list[str] | None) -> list[FamilyParticipant]:
    if scheduled.kind == SessionKind.CASE_DISCUSSION:
        raise InvalidField("A case discussion is for staff only; family members get no link.", field="participants")
    if scheduled.kind == SessionKind.INDIVIDUAL:
        allowed = [await _family_member(session, case, str(scheduled.participant_id), "participants")]
    else:
        rows = await session.execute(
            select(FamilyParticipant).where(FamilyParticipant.case_id == case.id).order_by(FamilyParticipant.created_at)
        )
        allowed = list(rows.scalars())
    if wanted is None:
        return allowed
    by_id = {person.id: person for person in allowed}
    unknown = [pid for pid in wanted if pid not in by_id]
    if unknown:
        raise InvalidField(f"'participants' names {unknown[0]}, who is not invited to this session.",
                           field="participants")
    return [by_id[pid] for pid in dict.fromkeys(wanted)]


@schedule_routes.route("POST", "/api/sessions/{session_id}/invites",
                       summary="Issue each family participant's personal link (re-issuing revokes the old)",
                       body=NEW_INVITES, roles=WORKER,
                       responses={201: "The links, and each join code once when asked for",
                                  404: "No such session, or not yours", 409: "Ended or cancelled"})
async def post_invites(request: web.Request) -> web.Response:
    staff = await require_staff(request, *WORKER)
    body = await read_json(request, NEW_INVITES)
    app = request.app
    issued = []
    async with app[AUDIT].recording(app[DB]) as session:
        scheduled, case = await _worker_session(session, request, staff)
        if scheduled.status not in OPEN:
            raise Conflict(f"A {scheduled.status} session takes no new links.")
        invitees = await _invitees(session, scheduled, case, body.get("participants"))
        replaced = (await session.execute(
            select(SessionInvite.participant_id, SessionInvite.id)
            .where(SessionInvite.session_id == scheduled.id, SessionInvite.revoked_at.is_(None),
                   SessionInvite.participant_id.in_([person.id for person in invitees]))
        )).all()
        for person in invitees:
            invite, token = await issue_invite(session, app[SIGNING_KEYS], app[SETTINGS], scheduled, person)
            code = new_join_code() if body.get("join_code") else None
            if code is not None:
                invite.join_code_hash = hash_join_code(code)
            issued.append({**invite_view(invite), "link": join_link(app[SETTINGS], token), "code": code})
            await app[AUDIT].append(session, actor=staff.actor, action="invite.issue", target=f"invite:{invite.id}",
                                    detail={"case": case.id, "session": scheduled.id, "participant": person.id,
                                            "join_code": code is not None})
    # A new link replaces the old one (issue_invite revoked it): whoever is still in on the old one leaves now.
    for participant_id, invite_id in replaced:
        await app[SIGNALING].invite_revoked(scheduled.id, participant_id, invite_id)
    return web.json_response({"invites": issued}, status=201)


@schedule_routes.route("POST", "/api/sessions/{session_id}/invites/{invite_id}/revoke",
                       summary="Revoke a personal link; whoever is in the call or waiting on it leaves at once",
                       body=EMPTY, roles=WORKER,
                       responses={200: "The link, revoked", 404: "No such session or link, or not yours"})
async def post_revoke(request: web.Request) -> web.Response:
    staff = await require_staff(request, *WORKER)
    await read_json(request, EMPTY)
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        scheduled, case = await _worker_session(session, request, staff)
        invite = await session.get(SessionInvite, request.match_info["invite_id"])
        if invite is None or invite.session_id != scheduled.id:
            raise NotFound()
        if invite.revoked_at is None:
            invite.revoked_at = utcnow()
            await app[AUDIT].append(session, actor=staff.actor, action="invite.revoke", target=f"invite:{invite.id}",
                                    detail={"case": case.id, "session": scheduled.id})
        view = invite_view(invite)
    # After the commit, and even for a link revoked before: someone still in on it must not stay.
    await app[SIGNALING].invite_revoked(scheduled.id, invite.participant_id, invite.id)
    return web.json_response(view)


# --- consent taken by the worker ----------------------------------------------


async def _case_member(session: AsyncSession, request: web.Request, staff: StaffPrincipal) -> tuple[Case, FamilyParticipant]:
    """The case and the family member, or NotFound alike for another team's case and a stranger."""
    case = await case_for_staff(session, request.match_info["reference"], staff.staff_id, staff.role)
    person = await session.get(FamilyParticipant, request.match_info["participant_id"])
    if person is None or person.case_id != case.id:
        raise NotFound()
    return case, person


async def _member_or_audit(request: web.Request, staff: StaffPrincipal, action: str) -> None:
    """NotFound, audited, when the member is not of this case or the case not the caller's; before any write."""
    try:
        async with request.app[DB]() as session:
            await _case_member(session, request, staff)
    except NotFound:
        target = f"participant:{request.match_info['participant_id']}"
        await consent_gate.audit_refused(request.app[DB], request.app[AUDIT], actor=staff.actor,
                                         action=f"{action}.refused-access", target=target)
        raise


def _audience(person: FamilyParticipant, kind: str) -> Audience:
    if kind == ConsentKind.ASSENT:
        if not person.is_minor:
            raise InvalidField("Only a minor gives assent; an adult gives consent.", field="kind")
        return Audience.CHILD
    return Audience.GUARDIAN if person.is_minor else Audience.ADULT


@schedule_routes.route("POST", "/api/cases/{reference}/participants/{participant_id}/consent",
                       summary="Record consent or assent given by phone, with a note (audited)",
                       body=STAFF_CONSENT, roles=CASE_STAFF,
                       responses={200: "Recorded (or already on record)", 404: "No such case or member, or not yours"})
async def post_staff_consent(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    body = await read_json(request, STAFF_CONSENT)
    await _member_or_audit(request, staff, "consent.record")
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        _case, person = await _case_member(session, request, staff)
        language = body.get("language") or language_for(person.preferred_language)
        text = consent_text(body.get("version", CURRENT_VERSION), language, _audience(person, body["kind"]))
        cipher = await open_case(session, app[KEYRING], person.case_id)
        recorded = await consent_gate.give_consent(
            session, app[AUDIT], cipher, person, ConsentKind(body["kind"]), text, actor=staff.actor,
            staff_id=staff.staff_id, note=body["note"],
        )
    admissible = await consent_gate.tell_rooms(app[DB], app[SIGNALING], person.id)
    return web.json_response({"participant": person.id, "kind": body["kind"], "recorded": recorded,
                              "version": text.version, "sha256": text.sha256, "may_be_admitted": admissible})


@schedule_routes.route("POST", "/api/cases/{reference}/participants/{participant_id}/consent/withdraw",
                       summary="Record a withdrawal, with an optional note: the person leaves any call at once and "
                               "their links stop",
                       body=STAFF_WITHDRAWAL, roles=CASE_STAFF,
                       responses={200: "Withdrawn", 404: "No such case or member, or not yours",
                                  409: "A note was given but no consent stands to withdraw"})
async def post_staff_withdraw(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    body = await read_json(request, STAFF_WITHDRAWAL)
    note = body.get("note", "").strip() or None
    if "note" in body and note is None:
        raise InvalidField("'note' is only white space; leave it out or say how the person withdrew.", field="note")
    await _member_or_audit(request, staff, "consent.withdraw")
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        _case, person = await _case_member(session, request, staff)
        standing = await standing_records(session, person.id)
        if note is not None and not standing:
            # A note with nothing to attach it to would be lost silently; say so and write nothing.
            raise Conflict("No consent of this person stands, so there is no withdrawal to add a note to.")
        withdrawn = await consent_gate.withdraw(session, app[AUDIT], person, actor=staff.actor)
        if note is not None:
            note_withdrawal(await open_case(session, app[KEYRING], person.case_id), standing, note)
            await app[AUDIT].append(session, actor=staff.actor, action="consent.withdrawal-note",
                                    target=f"participant:{person.id}",
                                    detail={"case": person.case_id, "consents": [r.id for r in standing]})
    await consent_gate.tell_rooms(app[DB], app[SIGNALING], person.id, withdrawn=True)
    return web.json_response({"participant": person.id, "withdrawn": withdrawn, "note": note is not None})

