"""The parts of a session record that arrive on their own: safety alerts, evaluation answers, a saved chat.

Both can come after the record was built (an alert acknowledged the next
morning, an evaluation answered at home an hour later), so the record reads
them from their tables when it is built and again each time one changes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.crypto.case_keys import CaseCipher
from telepractice.sessions.attendance import AttendanceKind
from telepractice.sessions.connection_tests import connection_tests_in
from telepractice.storage.models import AttendanceEventRow, CaseSession, ConsentRecord, EvaluationAnswer, SafetyAlert, SessionChat


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def alert_view(row: SafetyAlert) -> dict[str, Any]:
    return {
        "id": row.id,
        "session_id": row.session_id,
        "participant_id": row.participant_id,
        "at": _iso(row.at),
        "acknowledged": row.acknowledged_at is not None,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": _iso(row.acknowledged_at),
    }


async def safety_alerts_of(session: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """Every help a family member asked for in the session, oldest first."""
    rows = (
        await session.execute(
            select(SafetyAlert).where(SafetyAlert.session_id == session_id).order_by(SafetyAlert.at, SafetyAlert.id)
        )
    ).scalars()
    return [alert_view(row) for row in rows]


async def evaluation_answers_of(session: AsyncSession, cipher: CaseCipher, session_id: str) -> list[dict[str, Any]]:
    """Every family member's answers to the evaluation of the session, comments decrypted."""
    rows = (
        await session.execute(
            select(EvaluationAnswer).where(EvaluationAnswer.session_id == session_id)
            .order_by(EvaluationAnswer.answered_at, EvaluationAnswer.id)
        )
    ).scalars()
    return [
        {
            "participant_id": row.participant_id,
            "usefulness": row.usefulness,
            "comfort": row.comfort,
            "comment": cipher.decrypt_optional("evaluation_answers", "comment", row.id, row.comment_enc),
            "language": row.language,
            "answered_at": _iso(row.answered_at),
        }
        for row in rows
    ]


async def saved_chat_of(session: AsyncSession, cipher: CaseCipher, session_id: str) -> dict[str, Any] | None:
    """The session's text chat as staff saved it (sessions/chat_routes.py), lines decrypted; None when never saved."""
    row = await session.get(SessionChat, session_id)
    if row is None:
        return None
    lines = json.loads(cipher.decrypt("session_chats", "transcript", session_id, row.transcript_enc))
    return {"saved_at": _iso(row.saved_at), "saved_by": row.saved_by, "lines": lines}


_MOVES = (AttendanceKind.MOVED_ASIDE.value, AttendanceKind.BROUGHT_BACK.value)


async def side_room_moves_of(session: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """Who the host took into a side room or brought back, and when, oldest first (from attendance)."""
    rows = (
        await session.execute(
            select(AttendanceEventRow).where(AttendanceEventRow.session_id == session_id,
                                             AttendanceEventRow.event.in_(_MOVES))
            .order_by(AttendanceEventRow.at, AttendanceEventRow.recorded_at)
        )
    ).scalars()
    return [{"who": row.participant_id or row.staff_id, "who_kind": row.who_kind, "event": row.event,
             "at": _iso(row.at)} for row in rows]


async def consent_withdrawals_of(session: AsyncSession, cipher: CaseCipher, session_id: str) -> list[dict[str, Any]]:
    """Consent of the case withdrawn while the session went on (its first to its last attendance event), with notes."""
    window = (
        select(func.min(AttendanceEventRow.at).label("first"), func.max(AttendanceEventRow.at).label("last"))
        .where(AttendanceEventRow.session_id == session_id).subquery()
    )
    case_id = select(CaseSession.case_id).where(CaseSession.id == session_id).scalar_subquery()
    rows = (
        await session.execute(
            select(ConsentRecord).join(window, ConsentRecord.withdrawn_at.between(window.c.first, window.c.last))
            .where(ConsentRecord.case_id == case_id).order_by(ConsentRecord.withdrawn_at, ConsentRecord.id)
        )
    ).scalars()
    return [
        {
            "participant_id": row.participant_id,
            "kind": row.kind,
            "withdrawn_at": _iso(row.withdrawn_at),
            "withdrawn_by": row.withdrawn_by,
            "note": cipher.decrypt_optional("consent_records", "withdrawal_note", row.id, row.withdrawal_note_enc),
        }
        for row in rows
    ]


async def record_parts(session: AsyncSession, cipher: CaseCipher, session_id: str) -> dict[str, Any]:
    """The ``safety_alerts``, ``evaluation_answers`` and saved ``chat`` of a session record, as they stand."""
    return {
        "safety_alerts": await safety_alerts_of(session, session_id),
        "evaluation_answers": await evaluation_answers_of(session, cipher, session_id),
        "connection_tests": await connection_tests_in(session, session_id),
        "side_room_moves": await side_room_moves_of(session, session_id),
        "consent_withdrawals": await consent_withdrawals_of(session, cipher, session_id),
        "chat": await saved_chat_of(session, cipher, session_id),
    }
