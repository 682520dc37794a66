"""A stand-in server for the kill -9 test: admits two people, then heartbeats until it is killed.

Run as ``python -m tests.functional.attendance_child DB_URL SESSION FAMILY_ID STAFF_ID``.
Prints ``heartbeat <iso time>`` after each heartbeat is committed, and
``dropped <iso time>`` once the family member's connection drops.
"""

from __future__ import annotations

import asyncio
import sys
import time

from telepractice.sessions.attendance import AttendanceEvent, AttendanceKind, WhoKind
from telepractice.sessions.attendance_store import heartbeat, record
from telepractice.storage.engine import make_engine, make_session_factory
from telepractice.storage.models import utcnow

INTERVAL = 0.05
DROP_AFTER = 3
GIVE_UP_SECONDS = 60  # the parent kills us long before; never outlive a failed test


async def main(url: str, session_id: str, family_id: str, staff_id: str) -> None:
    db = make_session_factory(make_engine(url))
    start = utcnow()
    await record(db, session_id, [
        AttendanceEvent(AttendanceKind.ADMITTED, start, staff_id, WhoKind.STAFF),
        AttendanceEvent(AttendanceKind.ADMITTED, start, family_id, WhoKind.FAMILY),
    ])
    print("admitted", start.isoformat(), flush=True)
    deadline, beats = time.monotonic() + GIVE_UP_SECONDS, 0
    while time.monotonic() < deadline:
        await asyncio.sleep(INTERVAL)
        now = utcnow()
        await heartbeat(db, now)
        beats += 1
        print("heartbeat", now.isoformat(), flush=True)
        if beats == DROP_AFTER:
            dropped = utcnow()
            await record(db, session_id, [AttendanceEvent(AttendanceKind.DROPPED, dropped, family_id, WhoKind.FAMILY)])
            print("dropped", dropped.isoformat(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
