"""The case export lists each safety alert, evaluation answer, connection test and side-room move, in JSON and HTML."""

from __future__ import annotations

import html
from pathlib import Path

from telepractice.audit import AuditLog
from telepractice.cases.export import build_export, render_html
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance import AttendanceEvent, AttendanceKind, WhoKind
from telepractice.sessions.attendance_store import record
from telepractice.sessions.connection_tests import Measured, Verdict, store_connection_test
from telepractice.sessions.evaluations import QUESTIONS
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import EvaluationAnswer, SafetyAlert, new_id
from tests.functional.test_case_export import SNEAKY, a_case_with_history, at

COMMENT = "Gostei, mas <b>o som</b> falhou."


async def test_each_alert_answer_test_and_move_is_listed_with_its_details(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await a_case_with_history(db, keyring, audit)
    sid, mum, child, worker = data.scheduled.id, data.mother.id, data.child.id, data.worker.id
    answer_id = new_id()
    async with db() as session, session.begin():
        session.add(SafetyAlert(id="alert-1", session_id=sid, case_id=data.case.id, participant_id=child, at=at(10),
                                acknowledged_by=worker, acknowledged_at=at(11)))
        session.add(SafetyAlert(id="alert-2", session_id=sid, case_id=data.case.id, participant_id=child, at=at(30)))
        session.add(EvaluationAnswer(
            id=answer_id, session_id=sid, case_id=data.case.id, participant_id=mum, usefulness=4, comfort=2,
            comment_enc=data.cipher.encrypt("evaluation_answers", "comment", answer_id, COMMENT), language="pt",
            answered_at=at(60)))
    await store_connection_test(db, sid, mum, WhoKind.FAMILY, Measured(Verdict.AUDIO_ONLY, 210, 150, 40, 120), at(-3))
    await record(db, sid, [AttendanceEvent(AttendanceKind.MOVED_ASIDE, at(20), mum, WhoKind.FAMILY),
                           AttendanceEvent(AttendanceKind.BROUGHT_BACK, at(25), mum, WhoKind.FAMILY)])

    document = await build_export(db, keyring, audit, data.case.reference, "cli")
    held, planned = document["sessions"]
    assert [(a["id"], a["participant_id"], a["acknowledged_by"], a["acknowledged_at"]) for a in held["safety_alerts"]] == [
        ("alert-1", child, worker, at(11).isoformat()), ("alert-2", child, None, None)]
    [evaluation] = held["evaluation_answers"]
    assert evaluation["answers"] == [
        {"question": QUESTIONS["pt"]["usefulness"], "answer": 4},
        {"question": QUESTIONS["pt"]["comfort"], "answer": 2},
        {"question": QUESTIONS["pt"]["comment"], "answer": COMMENT},
    ]
    [test] = held["connection_tests"]
    assert (test["who"], test["verdict"], test["rtt_ms"], test["loss_percent"], test["kbps"]) == (
        mum, "audio-only", 210, 15.0, 120)
    assert [(m["who"], m["event"]) for m in held["side_room_moves"]] == [(mum, "moved_aside"), (mum, "brought_back")]
    assert (planned["safety_alerts"], planned["evaluation_answers"], planned["connection_tests"]) == ([], [], [])

    page = render_html(document)
    assert "Safety alerts: " not in page  # items, not counts
    assert f"{at(10).isoformat()}</td><td>Rui Filho</td><td>{data.worker.display_name}</td><td>{at(11).isoformat()}" in page
    assert "not acknowledged" in page
    assert html.escape(QUESTIONS["pt"]["comfort"]) in page and html.escape(COMMENT) in page and "<b>o som" not in page
    assert "audio-only</td><td>210 ms</td><td>15.0 %</td><td>120 kbit/s" in page
    assert "taken aside" in page and "brought back" in page
    assert "<script" not in page.replace(html.escape(SNEAKY), "")
