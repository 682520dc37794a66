"""A session's text chat saved to the case record: the one way any of the chat outlives the call.

The server relays chat lines and keeps none of them (docs/protocol.md, "Text
chat"). When the worker decides a chat belongs in the record, their page posts
the transcript it holds; it is sealed with the case key, like the notes, and
shows in the session record as ``chat``. A page reloaded mid-call holds only
the lines since, so a later save adds to what was saved, never replaces it.
The route is ``POST /api/sessions/{session_id}/record/chat`` (sessions/routes.py).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jwt
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.appkeys import DB, SETTINGS, SIGNING_KEYS
from telepractice.auth.guards import bearer_token, require_staff
from telepractice.auth.tokens import verify_token
from telepractice.crypto.case_keys import CaseCipher
from telepractice.errors import Forbidden, InvalidField, NotAuthenticated, NotFound
from telepractice.sessions.record_parts import saved_chat_of
from telepractice.signaling.identity import RESUME_AUDIENCE
from telepractice.signaling.messages import MAX_CHAT_CHARS, MAX_ID_CHARS
from telepractice.storage.models import SessionChat, StaffMember, utcnow
from telepractice.validation import Field, Schema

MAX_CHAT_LINES = 500
LINE = Schema(
    "ChatLine",
    Field("from", max_length=MAX_ID_CHARS, description="The participant id the server relayed the line from"),
    Field("name", max_length=200, description="The name the page showed for them"),
    Field("text", max_length=MAX_CHAT_CHARS, description="The line, as relayed"),
    Field("at", max_length=40, description="When the server relayed it (ISO 8601 with its UTC offset)"),
    Field("side_room", required=False, nullable=True, max_length=MAX_ID_CHARS,
          description="The side room it was written in; null or absent for the main room"),
)


class Transcript(Schema):
    """``{"lines": [ChatLine, ...]}``: validation.py checks each line; this checks the list around them."""

    def __init__(self) -> None:
        super().__init__("ChatTranscript", Field("lines", list_of=str, max_items=MAX_CHAT_LINES,
                                                 description="The chat lines the page holds, oldest first"))

    def validate(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidField("The request body must be a JSON object.")
        unknown = sorted(set(data) - {"lines"})
        if unknown:
            raise InvalidField(f"Unknown field '{unknown[0]}'.", field=unknown[0])
        lines = data.get("lines")
        if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_CHAT_LINES:
            raise InvalidField(f"'lines' must be a list of 1 to {MAX_CHAT_LINES} chat lines.", field="lines")
        return {"lines": [_line(index, line) for index, line in enumerate(lines)]}

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["lines"],
            "properties": {"lines": {"type": "array", "minItems": 1, "maxItems": MAX_CHAT_LINES,
                                     "items": LINE.json_schema()}},
        }


def _line(index: int, raw: Any) -> dict[str, Any]:
    try:
        line = LINE.validate(raw)
    except InvalidField as error:
        field = error.extra.get("field")
        where = f"lines[{index}]" + (f".{field}" if field else "")
        raise InvalidField(f"{where}: {error.detail}", field=where) from None
    try:
        at = dt.datetime.fromisoformat(line["at"])
    except ValueError:
        raise InvalidField(f"lines[{index}].at: must be an ISO 8601 time.", field=f"lines[{index}].at") from None
    if at.tzinfo is None:
        raise InvalidField(f"lines[{index}].at: must carry its UTC offset.", field=f"lines[{index}].at")
    return {"from": line["from"], "name": line["name"], "text": line["text"],
            "at": at.astimezone(dt.UTC).isoformat(), "side_room": line.get("side_room")}


TRANSCRIPT = Transcript()


async def chat_saver(request: web.Request, session_id: str, roles: tuple[str, ...]) -> tuple[str, str]:
    """The staff id and role saving a chat: from a staff access token, or from the call's own resume token.

    The call page holds the access token it was opened with (minutes long) and the resume token of its
    call (until the session's grace ends); a worker saving the chat at the end of a 90-minute session
    has only the second one left that works.
    """
    token = bearer_token(request)
    try:
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        raise NotAuthenticated("The token is not a well-formed JWT.") from None
    if audience != RESUME_AUDIENCE:
        staff = await require_staff(request, *roles)
        return staff.staff_id, staff.role
    claims = verify_token(request.app[SIGNING_KEYS], token, issuer=request.app[SETTINGS].issuer,
                          audience=RESUME_AUDIENCE)
    if claims.get("role") not in ("host", "staff"):
        raise Forbidden("Only staff of the case may save a session's chat.")
    if claims.get("session") != session_id:
        raise NotFound()
    async with request.app[DB]() as session:
        member = await session.get(StaffMember, claims["sub"])
    if member is None or member.disabled_at is not None:
        raise NotAuthenticated("The account is disabled.")
    if member.role not in roles:
        raise Forbidden()
    return member.id, member.role


def _key(line: dict[str, Any]) -> tuple[str, str, str]:
    return (line["at"], line["from"], line["text"])


async def save_chat(session: AsyncSession, cipher: CaseCipher, session_id: str, case_id: str, staff_id: str,
                    lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Seal ``lines`` into the session's saved chat, added to any saved before (the same line counts once)."""
    row = await session.get(SessionChat, session_id, with_for_update=True)
    kept = {} if row is None else {
        _key(line): line
        for line in json.loads(cipher.decrypt("session_chats", "transcript", session_id, row.transcript_enc))
    }
    for line in lines:
        kept.setdefault(_key(line), line)
    # By time (all in UTC, so the text sorts as the time does); lines of the same second keep their order.
    merged = sorted(kept.values(), key=lambda kept_line: kept_line["at"])
    sealed = cipher.encrypt("session_chats", "transcript", session_id, json.dumps(merged, ensure_ascii=False))
    if row is None:
        row = SessionChat(session_id=session_id, case_id=case_id, saved_by=staff_id, line_count=0, transcript_enc=b"")
        session.add(row)
    row.saved_by, row.saved_at, row.line_count, row.transcript_enc = staff_id, utcnow(), len(merged), sealed
    await session.flush()
    chat = await saved_chat_of(session, cipher, session_id)
    assert chat is not None
    return chat
