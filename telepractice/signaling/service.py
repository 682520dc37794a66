"""The signalling service of one server: its rooms, the timer that expires dropped participants, its sockets.

One ``SignalingService`` per application, made by ``signaling_context`` (a
cleanup context) once the database and keys exist. ``close_sockets`` runs on
shutdown, before aiohttp waits for handlers to finish, so no socket holds the
server open.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web

from telepractice.appkeys import ATTENDANCE_EVENTS, AUDIT, DB, KEYRING, SETTINGS, SIGNALING, SIGNALING_TIMINGS, SIGNING_KEYS
from telepractice.config import Settings
from telepractice.sessions.safety_alerts import safety_hook
from telepractice.signaling import errors
from telepractice.signaling.bus import InProcessBus, MessageBus, RedisBus
from telepractice.signaling.errors import CloseCode
from telepractice.signaling.heartbeat import Heartbeat
from telepractice.signaling.help_desk import SafetyEvent
from telepractice.signaling.identity import Admission, Doorkeeper
from telepractice.signaling.instances import Instances
from telepractice.signaling.outbound import Departure
from telepractice.signaling.messages import HELLO_TIMEOUT_SECONDS, PING_INTERVAL_SECONDS, SILENCE_TIMEOUT_SECONDS
from telepractice.signaling.participant import Peer
from telepractice.signaling.registry import RoomRegistry
from telepractice.signaling.room import DEFAULT_GRACE_SECONDS, Room, RoomEvent
from telepractice.signaling.turn import TurnConfig

log = logging.getLogger("telepractice.signaling")

EventsHook = Callable[[str, list[RoomEvent]], Awaitable[None]]
SafetyHook = Callable[[str, list[SafetyEvent]], Awaitable[None]]
# Long enough for a client to answer the close frame, short enough not to hold a restart up.
SHUTDOWN_CLOSE_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class Timings:
    """How long the transport waits for what (seconds); tests shorten them."""

    hello_timeout: float = HELLO_TIMEOUT_SECONDS
    ping_interval: float = PING_INTERVAL_SECONDS
    silence_timeout: float = SILENCE_TIMEOUT_SECONDS
    reconnect_grace: float = DEFAULT_GRACE_SECONDS  # how long a dropped participant's place is held
    expire_interval: float = 1.0  # how often dropped participants past their grace are let go
    outbox_limit: int = 512  # messages queued for one slow client before it is closed


class LiveConnection(Protocol):
    """What the service needs of a connection: to close it and to know when it has."""

    def close(self, code: int, reason: str) -> None: ...

    async def wait_closed(self) -> None: ...


async def log_safety(room_id: str, events: list[SafetyEvent]) -> None:
    """The default safety hook, for a service without a database: every alert logged, ids only."""
    for event in events:
        log.warning("room %s: safety alert %s %s participant=%s", room_id, event.alert_id, event.kind,
                    event.participant_id)


async def log_events(room_id: str, events: list[RoomEvent]) -> None:
    """The default attendance hook: ids and kinds at DEBUG, never names."""
    for event in events:
        log.debug("room %s: %s participant=%s reason=%s", room_id, event.kind, event.participant_id, event.reason)


def message_bus(settings: Settings) -> MessageBus:
    """Redis between several instances when ``redis_url`` is set; otherwise this instance alone."""
    return RedisBus.from_url(settings.redis_url) if settings.redis_url else InProcessBus()


def turn_config(settings: Settings) -> TurnConfig | None:
    """TURN credentials are handed out only when both the secret and the URLs are set."""
    if not settings.turn_secret or not settings.turn_urls:
        return None
    return TurnConfig(settings.turn_secret, settings.turn_urls, settings.turn_lifetime_seconds)


class SignalingService:
    """The rooms of this server and everything that runs beside them."""

    def __init__(
        self,
        doorkeeper: Doorkeeper,
        *,
        registry: RoomRegistry | None = None,
        timings: Timings | None = None,
        on_events: EventsHook = log_events,
        turn: TurnConfig | None = None,
        on_safety: SafetyHook = log_safety,
        bus: MessageBus | None = None,
    ) -> None:
        self.doorkeeper = doorkeeper
        self.timings = timings or Timings()
        self.registry = registry or RoomRegistry(grace=self.timings.reconnect_grace)
        self.on_events = on_events
        self.on_safety = on_safety
        self.turn = turn
        self.connections: set[LiveConnection] = set()
        # Held only while a room's events are written, so a room nobody reports on costs nothing.
        self._hand_over_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Which personal link each family member of a room came in on; forgotten with the room.
        self._links: weakref.WeakKeyDictionary[Room, dict[str, str]] = weakref.WeakKeyDictionary()
        self.instances = Instances(bus or InProcessBus(), {
            "consent-changed": self._heard_consent_changed,
            "invite-revoked": self._heard_invite_revoked,
            "session-ended": self._heard_session_ended,
        })
        self.heartbeat = Heartbeat(self.timings.ping_interval, self.now)

    # The rooms' clock: monotonic seconds. The C function itself, not a method wrapping it: it is read for
    # every frame.
    now = staticmethod(time.monotonic)

    async def report(self, room: Room) -> None:
        """Hand what the room recorded since the last call to the safety and attendance hooks."""
        safety, events = room.take_safety_events(), room.take_events()
        if safety or events:
            # Shielded: a handler cancelled as its client goes (leave, then close) still records what happened.
            await asyncio.shield(self._in_order(room.room_id, safety, events))

    async def _in_order(self, room_id: str, safety: list[SafetyEvent], events: list[RoomEvent]) -> None:
        """One hand-over per room at a time, in the order they happened.

        Two handlers of one room (the host admitting, then an HTTP request revoking the link a moment
        later) would otherwise write at once, and on PostgreSQL the second transaction would not see the
        presence the first is still writing: the removal would find no one to close.
        """
        lock = self._hand_over_locks.get(room_id)
        if lock is None:
            lock = self._hand_over_locks[room_id] = asyncio.Lock()
        async with lock:
            await self._hand_over(room_id, safety, events)

    async def _hand_over(self, room_id: str, safety: list[SafetyEvent], events: list[RoomEvent]) -> None:
        if safety:
            try:
                # Before attendance: a session ended in the same breath is recorded with its alerts.
                await self.on_safety(room_id, safety)
            except Exception:
                log.exception("the safety hook failed for room %s", room_id)
        if not events:
            return
        try:
            await self.on_events(room_id, events)
        except Exception:
            # Attendance failing must not take the call down with it.
            log.exception("the attendance hook failed for room %s", room_id)

    async def consent_changed(self, room_id: str, participant_id: str, consent_ok: bool) -> None:
        """The sessions layer recorded or withdrew consent: tell the host, or take the person out, on every instance."""
        await self._consent_changed_here(room_id, participant_id, consent_ok)
        await self.instances.tell("consent-changed", room=room_id, participant=participant_id, ok=consent_ok)

    async def _consent_changed_here(self, room_id: str, participant_id: str, consent_ok: bool) -> None:
        room = self.registry.get(room_id)
        if room is not None:
            room.set_consent(participant_id, consent_ok, self.now())
            await self.report(room)

    async def _heard_consent_changed(self, notice: Mapping[str, Any]) -> None:
        await self._consent_changed_here(str(notice["room"]), str(notice["participant"]), notice["ok"] is True)

    def admitted_on(self, room: Room, admission: Admission) -> None:
        """A connection joined ``room`` with ``admission``: remember the link a family member came in on."""
        if admission.invite_id is not None:
            self._links.setdefault(room, {})[admission.identity.participant_id] = admission.invite_id

    async def invite_revoked(self, room_id: str, participant_id: str, invite_id: str) -> None:
        """A personal link was revoked: whoever is in on it, waiting or in the call, on any instance, leaves now."""
        await self._invite_revoked_here(room_id, participant_id, invite_id)
        await self.instances.tell("invite-revoked", room=room_id, participant=participant_id, invite=invite_id)

    async def _invite_revoked_here(self, room_id: str, participant_id: str, invite_id: str) -> None:
        room = self.registry.get(room_id)
        # Only the link they came in on: revoking an older link must not remove someone on a newer one.
        if room is None or self._links.get(room, {}).get(participant_id) != invite_id:
            return
        if room.remove(participant_id, Departure.LINK_REVOKED, self.now()):
            await self.report(room)

    async def _heard_invite_revoked(self, notice: Mapping[str, Any]) -> None:
        await self._invite_revoked_here(str(notice["room"]), str(notice["participant"]), str(notice["invite"]))

    async def help_acknowledged(self, room_id: str, alert_id: str, staff_id: str) -> None:
        """Staff acknowledged an alert through the API: tell the staff still in the call."""
        room = self.registry.get(room_id)
        if room is None:
            return
        try:
            room.acknowledge_help(alert_id, staff_id, self.now())
        except errors.UnknownAlert:
            return  # asked for in a room this server has since forgotten
        await self.report(room)

    async def end_session(self, room_id: str) -> None:
        """The sessions layer ended or cancelled the session: close it for everyone, waiting room included."""
        await self._end_session_here(room_id)
        await self.instances.tell("session-ended", room=room_id)

    async def _heard_session_ended(self, notice: Mapping[str, Any]) -> None:
        await self._end_session_here(str(notice["room"]))

    async def _end_session_here(self, room_id: str) -> None:
        room = self.registry.get(room_id)
        self.registry.end(room_id, self.now())
        if room is not None:
            await self.report(room)

    def disconnect(self, room: Room, connection: Peer, now: float) -> None:
        """A connection in ``room`` closed: hold the person's place, and look at the room when the grace ends."""
        room.disconnect(connection, now)
        self.registry.check_after(room, now)

    async def expire(self, now: float) -> None:
        """Let go of everyone dropped for longer than the grace period; forget idle rooms."""
        for room in self.registry.expire(now):
            await self.report(room)

    async def expire_forever(self) -> None:
        while True:
            await asyncio.sleep(self.timings.expire_interval)
            try:
                await self.expire(self.now())
            except Exception:
                log.exception("expiring dropped participants failed")

    async def close_all(self, code: int = CloseCode.GOING_AWAY, reason: str = "going-away") -> None:
        """Close every socket and wait (briefly) until each has."""
        connections = list(self.connections)
        for connection in connections:
            connection.close(code, reason)
        if connections:
            await asyncio.wait(
                [asyncio.ensure_future(connection.wait_closed()) for connection in connections],
                timeout=SHUTDOWN_CLOSE_SECONDS,
            )


async def signaling_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the service and its timers (expiry, heartbeat), after the database and keys exist."""
    settings = app[SETTINGS]
    doorkeeper = Doorkeeper(app[DB], app[KEYRING], app[SIGNING_KEYS], settings)
    service = SignalingService(
        doorkeeper,
        timings=app.get(SIGNALING_TIMINGS),
        on_events=app.get(ATTENDANCE_EVENTS, log_events),
        turn=turn_config(settings),
        on_safety=safety_hook(app[DB], app[KEYRING], app[AUDIT]),
        bus=message_bus(settings),
    )
    await service.instances.start()
    app[SIGNALING] = service
    timers = [asyncio.create_task(service.expire_forever()), asyncio.create_task(service.heartbeat.run())]
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        await service.close_all()
        await service.instances.close()


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: close every signalling socket, so handlers end before aiohttp waits for them."""
    service = app.get(SIGNALING)
    if service is not None:
        await service.close_all()
