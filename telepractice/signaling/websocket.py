"""GET /ws: the WebSocket around the rooms. Checks the origin, waits for hello, reads, feeds the room, writes.

The room never waits on a socket: each connection is a ``Peer`` whose
``send`` writes the frame at once when the socket keeps up and otherwise
queues it for the connection's writer task, which waits for the socket to
drain. Every signalling error becomes one ``error`` message here, followed
by a close when the error has a close code (see docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import Callable
from aiohttp import WSMsgType, hdrs, web

from telepractice.appkeys import SETTINGS, SIGNALING
from telepractice.auth.guards import open_login
from telepractice.errors import Forbidden
from telepractice.openapi import ApiRoutes
from telepractice.signaling import errors, frames, outbound, turn
from telepractice.signaling.errors import CloseCode, SignalingProtocolError, SignalingUserError
from telepractice.signaling.frame_queue import SignalingResponse
from telepractice.signaling.heartbeat import ping_needed
from telepractice.signaling.identity import Admission
from telepractice.signaling.messages import MAX_FRAME_BYTES, MAX_ID_CHARS, Hello, InboundMessage, parse
from telepractice.signaling.outbound import Message
from telepractice.signaling.ratelimit import ACCEPT, MessageBudget, Verdict
from telepractice.signaling.room import Room
from telepractice.storage.models import StaffLogin, StaffMember
from telepractice.signaling.service import SignalingService

log = logging.getLogger("telepractice.signaling")

SignalingError = SignalingProtocolError | SignalingUserError
_FRAMES = (WSMsgType.TEXT, WSMsgType.BINARY)


# The messages _Socket._decorated adds transport fields to.
DECORATED = frozenset({"welcome", "ice-servers", "admitted"})


class Connection:
    """One socket as the room sees it: ``send`` and ``close`` return at once, never raise.

    ``send`` writes the frame to the transport itself when nothing is queued and the
    transport's buffer is empty (the common case: a client that keeps up); otherwise
    it queues, and the writer task sends through aiohttp, waiting for the socket to
    drain, so a slow reader still meets the outbox limit. Order holds either way: a
    direct write happens only with the queue empty, and the writer task puts each
    frame on the transport in the same step it takes it from the queue.
    """

    def __init__(self, ws: SignalingResponse, outbox_limit: int, transport: asyncio.Transport | None = None) -> None:
        self._ws = ws
        self._transport = transport
        self._outbox: collections.deque[Message] = collections.deque()
        self._outbox_limit = outbox_limit
        self._wakeup = asyncio.Event()
        self._closed = asyncio.Event()
        # The close asked for, if any (code, reason); an attribute the read loop checks before every frame.
        self.close_request: tuple[int, str] | None = None
        self.frames_sent = 0  # counted so the heartbeat can tell a connection that is busy anyway
        # Adds what only the transport knows (a resume token, TURN credentials) to a message on its way out;
        # called only for the kinds that carry such fields (DECORATED), not for every relayed message.
        self.decorate: Callable[[Message], Message] = lambda message: message

    @property
    def frames_read_in_place(self) -> int:
        """Frames this connection's room got where aiohttp parsed them (frame_queue.py)."""
        return self._ws.frames.in_place

    def send(self, message: Message) -> None:
        if self.close_request is not None:
            return
        self.frames_sent += 1
        if len(self._outbox) >= self._outbox_limit:
            # A client that reads too slowly must not make the server hold its messages forever.
            log.warning("closing a signalling connection that stopped reading (%d messages queued)", len(self._outbox))
            self._outbox.clear()
            self.close(CloseCode.INTERNAL_ERROR, "internal-error")
            return
        if message.get("type") in DECORATED:
            try:
                message = self.decorate(message)
            except Exception:
                log.exception("could not add transport fields to a %s message", message.get("type"))
        transport = self._transport
        # Straight onto the wire only when open both ways and the socket keeps up (checked inline: every
        # relayed message passes here).
        if (not self._outbox and transport is not None and not self._ws.closed and not transport.is_closing()
                and not transport.get_write_buffer_size()):
            try:
                transport.write(frames.text_frame(outbound.dump(message)))
                return
            except Exception:
                log.exception("writing a %s message to a signalling connection failed", message.get("type"))
                self.close(CloseCode.INTERNAL_ERROR, "internal-error")
                return
        self._outbox.append(message)
        self._wakeup.set()

    def close(self, code: int, reason: str) -> None:
        """Close after the messages already queued; the first close asked for wins."""
        if self.close_request is None:
            self.close_request = (int(code), reason)
            self._wakeup.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def write(self) -> None:
        """The writer task: queued messages in order, then the close."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._outbox:
                    await self._ws.send_frame(outbound.dump(self._outbox.popleft()), WSMsgType.TEXT)
                if self.close_request is not None:
                    code, reason = self.close_request
                    await self._ws.close(code=code, message=reason.encode())
                    return
        except ConnectionError:
            pass  # the client went away first; the read loop sees it too
        except Exception:
            log.exception("writing to a signalling connection failed")
        finally:
            self.close_request = self.close_request or (CloseCode.GOING_AWAY, "going-away")
            self._closed.set()


signaling_routes = ApiRoutes("signaling")


@signaling_routes.route(
    "GET", "/ws", summary="Open the signalling WebSocket (docs/protocol.md); the token goes in hello, never the URL",
    responses={101: "Switching to the WebSocket protocol", 403: "The Origin header is not this server's own origin"},
)
async def signaling_socket(request: web.Request) -> web.WebSocketResponse:
    """GET /ws: 403 before the upgrade unless the page is our own; then one signalling connection."""
    if request.headers.get(hdrs.ORIGIN) != request.app[SETTINGS].public_origin:
        raise Forbidden("Signalling connections are accepted only from this server's own pages.")
    service = request.app[SIGNALING]
    ws = SignalingResponse(max_msg_size=MAX_FRAME_BYTES, compress=False, heartbeat=None)
    await ws.prepare(request)
    # compress=False above is what lets Connection write whole frames itself (telepractice/signaling/frames.py).
    connection = Connection(ws, service.timings.outbox_limit, request.transport)
    writer = asyncio.create_task(connection.write())
    service.connections.add(connection)
    try:
        # The read loop is a task of its own: each frame then resumes only its coroutines, not also the request
        # handler's and every middleware's around it (bench/README.md). Cancelling the handler cancels it too.
        await asyncio.create_task(_Socket(request, service, ws, connection).run())
    except Exception:
        log.exception("a signalling connection failed")
        connection.close(CloseCode.INTERNAL_ERROR, "internal-error")
    finally:
        service.connections.discard(connection)
        connection.close(CloseCode.NORMAL, "")
        await writer
    return ws


class _Socket:
    """The reading side of one connection: hello, then messages into the room; the heartbeat timer visits it."""

    def __init__(
        self, request: web.Request, service: SignalingService, ws: SignalingResponse, connection: Connection
    ) -> None:
        self.request = request
        self.service = service
        self.ws = ws
        self.connection = connection
        self.budget = MessageBudget()
        self.last_heard = service.now()
        self.pings_sent = 0  # also the next ping's nonce
        self._frames_at_last_visit = 0
        self._room: Room | None = None  # the room joined, once it is
        self._reporter: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Hello and joining, then each frame into the room until the socket or the room closes it.

        Once joined, a frame is handled where aiohttp parses it whenever none is queued ahead of it
        (frame_queue.py); this loop takes the rest in order (frames sent during the hello, or behind a control
        frame) and ends the connection when the socket closes.
        """
        room = self._room = await self._join()
        if room is None:
            return
        self.service.heartbeat.add(self)
        queue = self.ws.frames
        try:
            queue.reader = self._take
            while self.connection.close_request is None:
                frame = await self.ws.receive()
                if frame.type not in _FRAMES:
                    return
                self._take(frame.data)
        finally:
            queue.reader = None
            self.service.heartbeat.discard(self)
            self.service.disconnect(room, self.connection, self.service.now())
            await self.service.report(room)

    # --- hello --------------------------------------------------------------

    async def _join(self) -> Room | None:
        """The room this connection's hello opens, joined; None when the connection was refused."""
        hello = await self._hello()
        if hello is None:
            return None
        room: Room | None = None
        try:
            admission = await self.service.doorkeeper.admit(hello.token, self._requested_session(),
                                                            loaded_login=self._loaded_login)
            now = self.service.now()
            room = self.service.registry.room(admission.identity.room_id, now)
            self.connection.decorate = functools.partial(self._decorated, admission)
            room.connect(admission.identity, self.connection, now)
            self.service.admitted_on(room, admission)
            return room
        except (SignalingProtocolError, SignalingUserError) as error:
            self._refuse(error, Hello.TYPE)
            return None
        finally:
            if room is not None:
                await self.service.report(room)

    async def _hello(self) -> Hello | None:
        timeout = self.service.timings.hello_timeout
        try:
            frame = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            self._refuse(errors.HelloRequired(f"No hello arrived within {timeout:g} seconds."))
            return None
        if frame.type not in _FRAMES:
            return None
        try:
            message = self._decode(frame.data, self.service.now())
        except (SignalingProtocolError, SignalingUserError) as error:
            if error.close_code is None:
                # Anything but a well-formed hello first ends the connection.
                error = errors.HelloRequired(f"The first message must be hello: {error.detail}")
            self._refuse(error)
            return None
        if not isinstance(message, Hello):
            shown = "dropped" if message is None else f"'{message.TYPE}'"
            self._refuse(errors.HelloRequired(f"The first message was {shown}, not hello."))
            return None
        return message

    def _requested_session(self) -> str | None:
        session = self.request.query.get("session")
        if session is not None and not 1 <= len(session) <= MAX_ID_CHARS:
            raise errors.WrongRoom("There is no such session, or the token does not open it.")
        return session

    async def _loaded_login(self, staff_id: str, login: StaffLogin | None, member: StaffMember | None) -> str:
        """The same checks on the login the hello's query read with its session."""
        return (await open_login(self.request.app, staff_id, login, member)).staff_id

    def _decorated(self, admission: Admission, message: Message) -> Message:
        kind = message.get("type")
        if kind == "welcome":
            message = {**message, **_plan_of(admission)}
            resume = self.service.doorkeeper.resume_token(admission)
            return message if resume is None else {**message, "resume": resume}
        if kind == "ice-servers" and self.service.turn is not None:
            ends_at = admission.ends_at.timestamp()
            return {**message, **turn.fresh(self.service.turn, admission.identity.participant_id, time.time(), ends_at)}
        if kind == "admitted" and self.service.turn is not None:
            ends_at = admission.ends_at.timestamp()
            now = time.time()
            if ends_at > now:
                servers = turn.ice_servers(self.service.turn, admission.identity.participant_id, now, ends_at)
                return {**message, "ice_servers": servers}
        return message

    # --- the call -----------------------------------------------------------

    def _take(self, data: bytes) -> None:
        """One frame of the call into the room; never raises (it runs inside aiohttp's data_received)."""
        if self.connection.close_request is not None:
            return  # closing: what the client sends now is not read, as after a close
        room = self._room
        assert room is not None
        message: InboundMessage | None = None
        now = self.service.now()
        try:
            message = self._decode(data, now)
            if message is None or not room.receive(self.connection, message, now):
                return  # dropped, or nothing recorded (most messages are relayed): nothing to hand over
        except (SignalingProtocolError, SignalingUserError) as error:
            self._refuse(error, None if message is None else message.TYPE)
            if not room.has_news:
                return
        except Exception:
            log.exception("a signalling connection failed")
            self.connection.close(CloseCode.INTERNAL_ERROR, "internal-error")
            return
        self._report_soon(room)

    def _report_soon(self, room: Room) -> None:
        """Hand the room's news to the hooks from a task of this connection's: ``_take`` cannot wait."""
        if self._reporter is None or self._reporter.done():
            self._reporter = asyncio.get_running_loop().create_task(self._report_news(room))

    async def _report_news(self, room: Room) -> None:
        # Until nothing is left: news that arrive while a hand-over is being written go in the next one.
        while room.has_news:
            await self.service.report(room)

    def _decode(self, data: bytes, now: float) -> InboundMessage | None:
        """The frame as a message, within the budget; None when it is dropped silently."""
        self.last_heard = now  # any frame, even one refused, is a sign of life
        # Text frames arrive as their bytes too (SignalingResponse): the length is the size on the wire.
        verdict = self.budget.admit(now, len(data))
        if verdict is not ACCEPT:  # one comparison for a frame within budget (ratelimit.ACCEPT)
            if verdict is Verdict.REFUSE:
                raise errors.RateLimited()
            if verdict is Verdict.DISCONNECT:
                raise errors.TooManyMessages()
            return None  # Verdict.DROP
        return parse(data)

    def beat(self, now: float) -> None:
        """Once per ping interval (the service's heartbeat timer): ping unless traffic went both ways since the last
        visit, or close after the silence timeout."""
        timings = self.service.timings
        if now - self.last_heard >= timings.silence_timeout:
            self.connection.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat-timeout")
            return
        sent = self.connection.frames_sent != self._frames_at_last_visit
        if ping_needed(now, self.last_heard, timings.ping_interval, sent):
            self.pings_sent += 1
            self.connection.send(outbound.ping(self.pings_sent))
        self._frames_at_last_visit = self.connection.frames_sent  # the ping itself does not count as traffic

    def _refuse(self, error: SignalingError, refused: str | None = None) -> None:
        self.connection.send(outbound.error(error, refused))
        if error.close_code is not None:
            self.connection.close(error.close_code, error.code)


def _plan_of(admission: Admission) -> dict[str, str]:
    """The session's planned start and end for welcome (the room itself knows nothing of plans)."""
    plan = {"planned_start": admission.planned_start, "planned_end": admission.planned_end}
    return {key: moment.isoformat() for key, moment in plan.items() if moment is not None}

