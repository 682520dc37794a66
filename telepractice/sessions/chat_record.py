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

from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.crypto.case_keys import CaseCipher
from telepractice.errors import InvalidField
from telepractice.sessions.record_parts import saved_chat_of
from telepractice.signaling.messages import MAX_CHAT_CHARS, MAX_ID_CHARS
from telepractice.storage.models import SessionChat, utcnow
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
