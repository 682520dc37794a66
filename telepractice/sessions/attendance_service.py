"""Attendance beside the rooms of one server: recovery at start, the heartbeat, the end-of-session sweep.

One ``AttendanceService`` per application. ``start()`` closes what a crashed
predecessor left open and starts two timers; ``hook`` is the signalling
service's ``on_events``; ``stop()`` cancels the timers. Wire it as a cleanup
context before the signalling one::

    service = AttendanceService(app[DB], app[KEYRING], app[AUDIT])
    await service.start()
    app[ATTENDANCE_EVENTS] = service.hook
    yield
    await service.stop()

Recovery closes every open presence in the database, so with several
server instances it must run only where no other instance is serving rooms
(for now: one instance serves the rooms of a deployment).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from telepractice.audit import AuditLog
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance_store import (
    HEARTBEAT_SECONDS,
    attendance_hook,
    heartbeat,
    recover_after_crash,
)
from telepractice.sessions.records import ended_hook, finish_abandoned_sessions
from telepractice.storage.engine import SessionFactory

log = logging.getLogger("telepractice.attendance")

SWEEP_SECONDS = 60.0


class AttendanceService:
    """Keeps the attendance record of this server's rooms current, and recovers it after a crash."""

    def __init__(
        self,
        db: SessionFactory,
        keyring: Keyring,
        audit: AuditLog,
        *,
        heartbeat_interval: float = HEARTBEAT_SECONDS,
        sweep_interval: float = SWEEP_SECONDS,
        live_sessions: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.db, self.keyring, self.audit = db, keyring, audit
        self.heartbeat_interval = heartbeat_interval
        self.sweep_interval = sweep_interval
        self.live_sessions = live_sessions
        self.hook = attendance_hook(db, on_ended=ended_hook(db, keyring, audit))
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        """Recover, then start the timers; returns how many presences recovery closed."""
        try:
            recovered = await recover_after_crash(self.db)
        except Exception:
            # A database down at start-up must not keep the server (and its health check) from starting;
            # the open presences stay open and are closed at the next start that reaches the database.
            log.exception("attendance recovery could not reach the database")
            recovered = 0
        self._tasks = [
            asyncio.create_task(self._every(self.heartbeat_interval, self.beat, "heartbeat")),
            asyncio.create_task(self._every(self.sweep_interval, self.sweep, "end-of-session sweep")),
        ]
        return recovered

    async def beat(self) -> int:
        sessions = None if self.live_sessions is None else list(self.live_sessions())
        return await heartbeat(self.db, session_ids=sessions)

    async def sweep(self) -> list[str]:
        """Write the record of every session that everyone left a while ago."""
        return await finish_abandoned_sessions(self.db, self.keyring, self.audit)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @staticmethod
    async def _every(interval: float, work: Callable[[], object], name: str) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await work()  # type: ignore[misc]
            except Exception:
                log.exception("attendance %s failed", name)
