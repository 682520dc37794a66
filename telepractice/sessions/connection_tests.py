"""Connection tests kept with a session's attendance, so its record can say why a session was short.

A page runs the test (web/js/connection-test.js) against the server's probe
peer and stores what it measured and the verdict it showed. Rows hold ids,
times and figures only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.sessions.attendance import WhoKind
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import ConnectionTest, new_id, utcnow


class Verdict(enum.StrEnum):
    """What the page told the person (web/js/connection-test.js, ``verdict``)."""

    GOOD = "good"
    AUDIO_ONLY = "audio-only"  # "video may freeze: we will start with audio only"
    NO_CONNECTION = "no-connection"  # "no connection: try another network"


@dataclasses.dataclass(frozen=True)
class Measured:
    """The figures of one test; None where the page could not measure one (no connection at all)."""

    verdict: Verdict
    rtt_ms: int | None = None
    loss_permille: int | None = None
    jitter_ms: int | None = None
    kbps: int | None = None


async def store_connection_test(
    db: SessionFactory, session_id: str, who: str, who_kind: WhoKind, measured: Measured, at: dt.datetime | None = None
) -> str:
    """Keep one test's result with the session; returns its id."""
    row = ConnectionTest(
        id=new_id(), session_id=session_id, who_kind=str(who_kind), at=at or utcnow(), verdict=str(measured.verdict),
        participant_id=who if who_kind is WhoKind.FAMILY else None,
        staff_id=who if who_kind is WhoKind.STAFF else None,
        rtt_ms=measured.rtt_ms, loss_permille=measured.loss_permille, jitter_ms=measured.jitter_ms, kbps=measured.kbps,
    )
    async with db() as session, session.begin():
        session.add(row)
    return row.id


async def connection_tests_of(db: SessionFactory, session_id: str) -> list[ConnectionTest]:
    """Every connection test of a session, oldest first."""
    async with db() as session:
        query = select(ConnectionTest).where(ConnectionTest.session_id == session_id).order_by(ConnectionTest.at)
        return list((await session.execute(query)).scalars())


def connection_test_view(row: ConnectionTest) -> dict[str, Any]:
    """One test as the session record shows it: whose, when, the verdict and what was measured."""
    return {
        "who": row.participant_id or row.staff_id,
        "who_kind": row.who_kind,
        "at": row.at.isoformat(),
        "verdict": row.verdict,
        "rtt_ms": row.rtt_ms,
        "loss_percent": None if row.loss_permille is None else row.loss_permille / 10,
        "jitter_ms": row.jitter_ms,
        "kbps": row.kbps,
    }


async def connection_tests_in(session: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """Every connection test of a session as the record shows them, oldest first, inside the caller's transaction."""
    query = select(ConnectionTest).where(ConnectionTest.session_id == session_id).order_by(
        ConnectionTest.at, ConnectionTest.id)
    return [connection_test_view(row) for row in (await session.execute(query)).scalars()]
