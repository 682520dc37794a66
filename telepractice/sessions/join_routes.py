"""HTTP routes of the join page: a family member's link checked, its join code, consent given or withdrawn.

The join token travels in the JSON body (or, for the one GET, the
Authorization header), never in a URL, so no log, proxy or Referer keeps it.
When a link needs a join code, nothing about the person is shown and no
consent taken until the code was given: ``POST /api/join/code`` answers with
the token to use from then on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from telepractice.appkeys import AUDIT, DB, KEYRING, SETTINGS, SIGNALING, SIGNING_KEYS
from telepractice.auth.guards import bearer_token
from telepractice.auth.routes import client_address
from telepractice.crypto.case_keys import open_case
from telepractice.errors import NotAuthenticated, NotFound
from telepractice.http import read_json
from telepractice.openapi import ApiRoutes
from telepractice.sessions import consent_gate
from telepractice.sessions.consent_texts import (
    CURRENT_VERSION,
    LANGUAGES,
    consent_text,
    language_for,
)
from telepractice.sessions.join import (
    CODE_DIGITS,
    OpenLink,
    check_join_code,
    consent_step,
    join_summary,
    open_link,
)
from telepractice.sessions.scheduling import planned_end
from telepractice.validation import Field, Schema

join_routes = ApiRoutes("join")

TOKEN = Field("token", max_length=4096, secret=True, description="The join token from the link's fragment")
SUBJECT = Field("participant", max_length=36, required=False,
                description="Whom the consent is for: yourself (default) or a minor in your care")
JOIN_CHECK = Schema("JoinCheck", TOKEN)
JOIN_CODE = Schema("JoinCode", TOKEN, Field("code", min_length=CODE_DIGITS, max_length=CODE_DIGITS,
                                            description="The 6-digit code the worker gave by phone"))
JOIN_CONSENT = Schema(
    "JoinConsent", TOKEN, SUBJECT,
    Field("version", max_length=32, description="The version of the text that was shown"),
    Field("language", choices=LANGUAGES),
    Field("decision", choices=["agree", "refuse"]),
)
JOIN_WITHDRAW = Schema("JoinWithdraw", TOKEN, SUBJECT)


class JoinCodeRequired(NotAuthenticated):
    code, title = "join-code-required", "This link needs the join code your worker gave you first."


async def _subject_or_audit(request: web.Request, link: OpenLink, subject_id: str, action: str) -> None:
    """NotFound, audited, when the link's holder names someone not in their care; before any write."""
    try:
        async with request.app[DB]() as session:
            await consent_step(session, link.person, subject_id)
    except NotFound:
        await consent_gate.audit_refused(request.app[DB], request.app[AUDIT], actor=f"participant:{link.person.id}",
                                         action=f"{action}.refused-access", target=f"participant:{subject_id}")
        raise


async def _link(request: web.Request, token: str, *, need_code: bool = True) -> OpenLink:
    """The link of a join token (in its own read-only transaction); with need_code, refused until the code was given."""
    async with request.app[DB]() as session:
        link = await open_link(session, request.app[SIGNING_KEYS], request.app[SETTINGS], token)
    if need_code and link.invite.join_code_hash is not None and not link.code_verified:
        raise JoinCodeRequired()
    return link


@join_routes.route("POST", "/api/join/check", summary="What the join page needs to know about a link",
                   body=JOIN_CHECK,
                   responses={200: "The session, the person, consent and join code state",
                              401: "Forged or expired link", 410: "Link revoked, or session ended or cancelled",
                              423: "Link locked after too many wrong join codes"})
async def post_check(request: web.Request) -> web.Response:
    body = await read_json(request, JOIN_CHECK)
    link = await _link(request, body["token"], need_code=False)
    if link.invite.join_code_hash is not None and not link.code_verified:
        # Before the code, a forwarded or intercepted link shows nobody's name.
        return web.json_response({
            "session": {"planned_start": link.scheduled.planned_start.isoformat(),
                        "planned_end": planned_end(link.scheduled).isoformat()},
            "participant": {"language": language_for(link.person.preferred_language)},
            "join_code_required": True,
            "join_code_verified": False,
        })
    async with request.app[DB]() as session:
        cipher = await open_case(session, request.app[KEYRING], link.scheduled.case_id)
        summary = await join_summary(session, cipher, link)
    return web.json_response(summary)


@join_routes.route("POST", "/api/join/code", summary="Give a link's join code; answers the token to join with",
                   body=JOIN_CODE,
                   responses={200: "The code is right: {token}", 401: "Forged or expired link",
                              410: "Link revoked or session over", 422: "Wrong code (tries_left)",
                              423: "Link locked after too many wrong codes",
                              429: "Too many wrong codes from this address (Retry-After)"})
async def post_code(request: web.Request) -> web.Response:
    body = await read_json(request, JOIN_CODE)
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        link = await open_link(session, app[SIGNING_KEYS], app[SETTINGS], body["token"])
        outcome = await check_join_code(session, app[SIGNING_KEYS], app[SETTINGS], link, body["code"],
                                        f"join-code:{client_address(request)}")
        if outcome.error is not None and outcome.error.status != 429:
            await app[AUDIT].append(session, actor=f"participant:{link.person.id}", action="join.code.wrong",
                                    target=f"invite:{link.invite.id}",
                                    detail={"session": link.scheduled.id, "locked": link.invite.locked_at is not None})
    if outcome.error is not None:
        raise outcome.error
    return web.json_response({"token": outcome.token})


@join_routes.route("GET", "/api/join/consent-text",
                   summary="The consent text for a link's holder (join token as Authorization: Bearer)",
                   responses={200: "version, language, audience, text, sha256 (?participant=&language=)",
                              401: "No, forged or expired link, or join code not yet given", 404: "Not in your care",
                              410: "Link revoked or session over", 422: "No text in that language"})
async def get_consent_text(request: web.Request) -> web.Response:
    link = await _link(request, bearer_token(request))
    subject_id = request.query.get("participant", link.person.id)
    async with request.app[DB]() as session:
        step = await consent_step(session, link.person, subject_id)
    language = request.query.get("language") or language_for(link.person.preferred_language)
    text = consent_text(CURRENT_VERSION, language, step.audience)
    return web.json_response({**text.as_dict(), "kind": str(step.kind), "participant": step.participant.id})


@join_routes.route("POST", "/api/join/consent", summary="Agree to or refuse a consent text, in the browser",
                   body=JOIN_CONSENT,
                   responses={200: "Recorded; whether the person may now be admitted",
                              401: "Forged or expired link, or join code not yet given", 404: "Not in your care",
                              409: "Refusing consent that is on record", 410: "Link revoked or session over"})
async def post_consent(request: web.Request) -> web.Response:
    body = await read_json(request, JOIN_CONSENT)
    link = await _link(request, body["token"])
    await _subject_or_audit(request, link, body.get("participant", link.person.id), "consent.give")
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        holder = link.person
        step = await consent_step(session, holder, body.get("participant", holder.id))
        # The hash is the server's own, from the version and language: a client's hash is never taken.
        text = consent_text(body["version"], body["language"], step.audience)
        if body["decision"] == "refuse":
            await consent_gate.refuse_consent(session, app[AUDIT], step.participant, step.kind, text, holder)
        else:
            cipher = await open_case(session, app[KEYRING], holder.case_id)
            await consent_gate.give_consent(session, app[AUDIT], cipher, step.participant, step.kind, text,
                                            actor=f"participant:{holder.id}", given_by=holder)
    admissible = await consent_gate.tell_rooms(app[DB], app[SIGNALING], step.participant.id)
    answer: dict[str, Any] = {"participant": step.participant.id, "kind": str(step.kind),
                              "decision": body["decision"], "version": text.version, "sha256": text.sha256,
                              "may_be_admitted": admissible}
    return web.json_response(answer)


@join_routes.route("POST", "/api/join/consent/withdraw",
                   summary="Withdraw consent: the person leaves the call at once and the link stops working",
                   body=JOIN_WITHDRAW,
                   responses={200: "Withdrawn", 401: "Forged or expired link, or join code not yet given",
                              404: "Not in your care", 410: "Link revoked or session over"})
async def post_withdraw(request: web.Request) -> web.Response:
    body = await read_json(request, JOIN_WITHDRAW)
    link = await _link(request, body["token"])
    await _subject_or_audit(request, link, body.get("participant", link.person.id), "consent.withdraw")
    app = request.app
    async with app[AUDIT].recording(app[DB]) as session:
        step = await consent_step(session, link.person, body.get("participant", link.person.id))
        withdrawn = await consent_gate.withdraw(session, app[AUDIT], step.participant,
                                                actor=f"participant:{link.person.id}")
    await consent_gate.tell_rooms(app[DB], app[SIGNALING], step.participant.id, withdrawn=True)
    return web.json_response({"participant": step.participant.id, "withdrawn": withdrawn})
