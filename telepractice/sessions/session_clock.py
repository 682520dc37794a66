"""The session clock: tells the host of each live room, once, that the planned end is five minutes away.

The rooms know nothing of plans; the clock reads the planned end of the
sessions that have a room on this server and hands the host a
``time-warning`` through the room. A session made longer after its warning
is warned again when its new end nears. Nothing is ended by the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from telepractice.appkeys import DB, SESSION_CLOCK, SIGNALING
from telepractice.signaling import outbound
from telepractice.signaling.service import SignalingService
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import CaseSession, utcnow

log = logging.getLogger("telepractice.sessions")

WARN_BEFORE = dt.timedelta(minutes=5)
TICK_SECONDS = 5.0


class SessionClock:
    """Watches the planned ends of this server's live rooms."""

    def __init__(self, db: SessionFactory, signaling: SignalingService, *, warn_before: dt.timedelta = WARN_BEFORE,
                 interval: float = TICK_SECONDS) -> None:
        self.db = db
        self.signaling = signaling
        self.warn_before = warn_before
        self.interval = interval
        self._warned: dict[str, dt.datetime] = {}  # room id -> the planned end its host was warned of

    async def tick(self, now: dt.datetime | None = None) -> list[str]:
        """Warn every host whose planned end is near and not yet warned of; the rooms warned."""
        now = now or utcnow()
        rooms = {room.room_id: room for room in self.signaling.registry}
        self._warned = {room_id: end for room_id, end in self._warned.items() if room_id in rooms}
        if not rooms:
            return []
        async with self.db() as session:
            rows = await session.execute(
                select(CaseSession.id, CaseSession.planned_start, CaseSession.planned_minutes)
                .where(CaseSession.id.in_(rooms))
            )
            plans = [(row.id, row.planned_start + dt.timedelta(minutes=row.planned_minutes)) for row in rows]
        warned = []
        for room_id, end in plans:
            if not end - self.warn_before <= now < end or self._warned.get(room_id) == end:
                continue
            minutes_left = math.ceil((end - now).total_seconds() / 60)
            if rooms[room_id].tell_host(outbound.time_warning(end.isoformat(), minutes_left)):
                self._warned[room_id] = end
                warned.append(room_id)
        return warned

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:
                log.exception("the session clock failed to warn hosts")


async def session_clock_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context, after signalling: the clock and its timer."""
    clock = SessionClock(app[DB], app[SIGNALING])
    app[SESSION_CLOCK] = clock
    task = asyncio.create_task(clock.run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
