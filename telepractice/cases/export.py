"""A case's whole record, decrypted, as JSON and as one self-contained HTML page; every export is audited.

For a family's request to see their file, a transfer, or a court: participants,
consent history, sessions with their attendance and records, and notes. Each
session lists its items, not counts: every safety alert (when, who asked, who
acknowledged it and when), every evaluation answer (the question as it was
asked, the answer, the comment), every connection test and side-room move. The
page loads nothing from anywhere (inline style, no script, a CSP that forbids
the rest). An erased case cannot be exported: its key no longer exists.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.cases.records import read_case
from telepractice.crypto.case_keys import CaseCipher, open_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import NotFound, RecordErased
from telepractice.sessions.connection_tests import connection_tests_in
from telepractice.sessions.evaluations import QUESTIONS
from telepractice.sessions.record_parts import evaluation_answers_of, safety_alerts_of, side_room_moves_of
from telepractice.sessions.records import read_record
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    AttendanceEventRow,
    Case,
    CaseSession,
    PresenceInterval,
    SessionRecord,
    StaffMember,
    utcnow,
)

EXPORT_FORMAT = "telepractice.case-export/1"


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _evaluation_view(answer: dict[str, Any]) -> dict[str, Any]:
    """One person's evaluation with each question in the words they were asked it."""
    asked = QUESTIONS.get(answer["language"], QUESTIONS["en"])
    return {
        **answer,
        "answers": [
            {"question": asked["usefulness"], "answer": answer["usefulness"]},
            {"question": asked["comfort"], "answer": answer["comfort"]},
            {"question": asked["comment"], "answer": answer["comment"]},
        ],
    }


async def _session_view(
    session: AsyncSession, keyring: Keyring, cipher: CaseCipher, scheduled: CaseSession
) -> dict[str, Any]:
    intervals = (
        await session.execute(
            select(PresenceInterval).where(PresenceInterval.session_id == scheduled.id)
            .order_by(PresenceInterval.started_at, PresenceInterval.id)
        )
    ).scalars().all()
    events = (
        await session.execute(
            select(AttendanceEventRow).where(AttendanceEventRow.session_id == scheduled.id)
            .order_by(AttendanceEventRow.at, AttendanceEventRow.recorded_at)
        )
    ).scalars().all()
    has_record = await session.get(SessionRecord, scheduled.id) is not None
    return {
        "id": scheduled.id,
        "kind": scheduled.kind,
        "status": scheduled.status,
        "planned_start": _iso(scheduled.planned_start),
        "planned_minutes": scheduled.planned_minutes,
        "host_id": scheduled.host_id,
        "attendance": {
            "intervals": [
                {
                    "who": row.participant_id or row.staff_id,
                    "who_kind": row.who_kind,
                    "started_at": _iso(row.started_at),
                    "ended_at": _iso(row.ended_at),
                    "end_reason": row.end_reason,
                    "interruptions": row.interruptions,
                    "interrupted_seconds": round(row.interrupted_ms / 1000),
                }
                for row in intervals
            ],
            "events": [
                {"who": row.participant_id or row.staff_id, "event": row.event, "reason": row.reason,
                 "at": _iso(row.at)}
                for row in events
            ],
        },
        "record": await read_record(session, keyring, scheduled.id) if has_record else None,
        # Read from their own tables, so a session without a record yet (or an older record) still lists them.
        "safety_alerts": await safety_alerts_of(session, scheduled.id),
        "evaluation_answers": [_evaluation_view(a) for a in await evaluation_answers_of(session, cipher, scheduled.id)],
        "connection_tests": await connection_tests_in(session, scheduled.id),
        "side_room_moves": await side_room_moves_of(session, scheduled.id),
    }


async def _find(session: AsyncSession, keyring: Keyring, reference: str) -> tuple[Case, CaseCipher]:
    case = await session.scalar(select(Case).where(Case.reference == reference))
    if case is None:
        raise NotFound(f"There is no case with reference {reference}.")
    if case.erased_at is not None:
        raise RecordErased(f"Case {reference} was erased; there is nothing left to export.")
    try:
        return case, await open_case(session, keyring, case.id)
    except RecordErased:
        raise RecordErased(f"Case {reference} was erased; there is nothing left to export.") from None


async def build_export(db: SessionFactory, keyring: Keyring, audit: AuditLog, reference: str, actor: str) -> dict[str, Any]:
    """The whole case record, decrypted; the export is written to the audit log in the same transaction."""
    async with audit.recording(db) as session:
        case, cipher = await _find(session, keyring, reference)
        document = await read_case(session, keyring, case)  # with the consent history and refusals
        scheduled = (
            await session.execute(
                select(CaseSession).where(CaseSession.case_id == case.id).order_by(CaseSession.planned_start)
            )
        ).scalars().all()
        sessions = [await _session_view(session, keyring, cipher, row) for row in scheduled]
        staff_ids = {s["host_id"] for s in sessions} | set(document["worker_ids"]) | {case.supervisor_id or ""}
        staff = (await session.execute(select(StaffMember).where(StaffMember.id.in_(staff_ids)))).scalars().all()
        document.update({
            "format": EXPORT_FORMAT,
            "exported_at": utcnow().isoformat(),
            "staff": [{"id": m.id, "display_name": m.display_name, "role": m.role} for m in staff],
            "sessions": sessions,
        })
        await audit.append(session, actor=actor, action="case.export", target=f"case:{case.id}",
                           detail={"sessions": len(sessions)})
    return document


def write_export(document: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``REF.json`` and ``REF.html`` readable by the owner only; returns their paths."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    reference = document["reference"]
    written = []
    for suffix, text in ((".json", json.dumps(document, indent=2, ensure_ascii=False)), (".html", render_html(document))):
        path = out_dir / f"{reference}{suffix}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        written.append(path)
    return written[0], written[1]


# --- the page ------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1b1b1b;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem}
h4{font-size:.95rem;margin:1rem 0 .25rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f2f2f2}.absent{color:#a40000;font-weight:600}
.note{white-space:pre-wrap;border-left:3px solid #ccc;padding-left:.75rem}
@media print{body{margin:0}}
"""


def _e(value: Any) -> str:
    return "—" if value is None or value == "" else html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _names(document: dict[str, Any]) -> dict[str, str]:
    names = {p["id"]: p["display_name"] for p in document["participants"]}
    names.update({s["id"]: s["display_name"] for s in document["staff"]})
    return names


def _who(names: dict[str, str], person_id: str | None) -> str:
    return _e(None if person_id is None else names.get(person_id, person_id))


def _interval_html(interval: dict[str, Any]) -> str:
    gaps = interval["interruptions"]
    extra = f", {gaps} interruption(s)" if gaps else ""
    return f"{_e(interval['started_at'])} – {_e(interval['ended_at'])} ({_e(interval['end_reason'])}{extra})"


def _session_html(item: dict[str, Any], names: dict[str, str]) -> str:
    kind = item["kind"].replace("_", " ").capitalize()
    title = f"{_e(kind)} session, planned {_e(item['planned_start'])} ({_e(item['planned_minutes'])} min)"
    parts = [f"<h3>{title} — {_e(item['status'])}</h3>"]
    record = item["record"]
    if record is not None:
        parts.append(f"<p>Actual: {_e(record['actual_start'])} to {_e(record['actual_end'])}, "
                     f"{_e(record['duration_minutes'])} minutes. Host: {_who(names, record['host_id'])}.</p>")
        parts.append(_table(
            ["Person", "Attendance", "Joined minutes", "Late", "Intervals"],
            [[_who(names, p["id"]),
              "<span class=absent>did not attend</span>" if p["attendance"] == "did_not_attend" else "attended",
              _e(p["joined_minutes"]), f"{_e(p['minutes_late'])} min" if p["late"] else "no",
              "<br>".join(_interval_html(i) for i in p["intervals"])]
             for p in record["participants"]],
        ))
        if record.get("notes"):
            parts.append(f"<div class=note>{_e(record['notes'])}</div>")
    else:
        parts.append(_table(
            ["Person", "From", "To", "Why it ended"],
            [[_who(names, i["who"]), _e(i["started_at"]), _e(i["ended_at"]), _e(i["end_reason"])]
             for i in item["attendance"]["intervals"]],
        ))
    parts.extend(_items_html(item, names))
    return "\n".join(parts)


def _items_html(item: dict[str, Any], names: dict[str, str]) -> list[str]:
    """A session's safety alerts, evaluation answers, connection tests and side-room moves, one row each."""
    alerts = _table(
        ["Asked for help", "Who", "Acknowledged by", "Acknowledged at"],
        [[_e(a["at"]), _who(names, a["participant_id"]),
          _who(names, a["acknowledged_by"]) if a["acknowledged"] else "<span class=absent>not acknowledged</span>",
          _e(a["acknowledged_at"])]
         for a in item["safety_alerts"]],
    )
    evaluations = _table(
        ["Who", "Answered", "Question", "Answer"],
        [[_who(names, e["participant_id"]) if i == 0 else "", _e(e["answered_at"]) if i == 0 else "",
          _e(qa["question"]), _e(qa["answer"])]
         for e in item["evaluation_answers"] for i, qa in enumerate(e["answers"])],
    )
    tests = _table(
        ["Connection test", "Whose", "Verdict", "Round trip", "Loss", "Bitrate"],
        [[_e(t["at"]), _who(names, t["who"]), _e(t["verdict"]), _unit(t["rtt_ms"], "ms"),
          _unit(t["loss_percent"], "%"), _unit(t["kbps"], "kbit/s")]
         for t in item["connection_tests"]],
    )
    moves = _table(
        ["When", "Who", "Side room"],
        [[_e(m["at"]), _who(names, m["who"]), "taken aside" if m["event"] == "moved_aside" else "brought back"]
         for m in item["side_room_moves"]],
    )
    return ["<h4>Safety alerts</h4>", alerts, "<h4>Evaluation</h4>", evaluations,
            "<h4>Connection tests</h4>", tests, "<h4>Side rooms</h4>", moves]


def _unit(value: Any, unit: str) -> str:
    return "—" if value is None else f"{_e(value)} {unit}"


def render_html(document: dict[str, Any]) -> str:
    """A readable page of the export; every value escaped, nothing loaded from anywhere."""
    names = _names(document)
    participants = _table(
        ["Name", "Role", "Minor", "Guardian", "Language", "Contact"],
        [[_e(p["display_name"]), _e(p["role"]), "yes" if p["is_minor"] else "no",
          _who(names, p["guardian_id"]), _e(p["preferred_language"]), _e(p["contact"])]
         for p in document["participants"]],
    )
    consents = _table(
        ["Person", "Kind", "How", "Given by", "Text", "Given", "Withdrawn", "Note", "Withdrawal note"],
        [[_who(names, c["participant_id"]), _e(c["kind"]), _e(c["method"].replace("_", " ")),
          _who(names, c["given_by_participant_id"] or c["recorded_by_staff_id"]), f"{_e(c['text_version'])} ({_e(c['language'])})",
          _e(c["given_at"]), _e(c["withdrawn_at"]), _e(c["note"]), _e(c.get("withdrawal_note"))]
         for c in document["consent_history"]],
    )
    sessions = "\n".join(_session_html(item, names) for item in document["sessions"]) or "<p>None.</p>"
    notes = "\n".join(
        f"<p><strong>{_e(n['created_at'])}</strong>, {_who(names, n['author_id'])}</p><div class=note>{_e(n['body'])}</div>"
        for n in document["notes"]
    ) or "<p>None.</p>"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Case record {_e(document['reference'])}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Case record {_e(document['reference'])}</h1>
<p>Risk level: {_e(document['risk_level'])}. Opened {_e(document['created_at'])}.
Supervisor: {_who(names, document['supervisor_id'])}. Workers: {", ".join(_who(names, w) for w in document['worker_ids']) or "—"}.</p>
<p>Exported {_e(document['exported_at'])}. Confidential: contains personal data of a family.</p>
<h2>Family members</h2>
{participants}
<h2>Consent history</h2>
{consents}
<h2>Sessions</h2>
{sessions}
<h2>Case notes</h2>
{notes}
</body>
</html>
"""
