"""An aiortc participant of a session, for tests, benchmarks and load tests: /ws signalling and a real mesh.

It follows docs/protocol.md as a browser does: ``hello`` with a join,
staff access or resume token; the waiting room; on ``admitted`` an offer to
everyone in ``call``; answers to offers from those who arrive later; one
RTCPeerConnection per remote participant (telepractice/client_peer.py). It
answers the server's pings and, when its socket drops, comes back with the
resume token from ``welcome``.

    async with SessionClient("https://localhost:8443", token, ssl=False) as client:
        await client.until_admitted()
        await client.until_frames(other_id)
        print(client.safety_code(other_id))

aiortc adds a public STUN server when given no ICE servers at all; this client
always passes a list (the server's from ``admitted``, or none), so a test that
keeps host candidates on 127.0.0.1 (telepractice/testing/loopback.py) sends
nothing off the machine.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import logging
import socket
import ssl as ssl_module
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiortc import RTCConfiguration, RTCIceServer
from yarl import URL

from telepractice.client_peer import MediaOptions, PeerLink
from telepractice.signaling.errors import CloseCode
from telepractice.signaling.messages import MAX_FRAME_BYTES, PROTOCOL_VERSION, SILENCE_TIMEOUT_SECONDS

log = logging.getLogger("telepractice.client")

Message = dict[str, Any]
SSLOption = ssl_module.SSLContext | bool | None

# The closes after which a client should come back (docs/protocol.md, "Close codes"); None: no close frame at all.
RECONNECT_AFTER = frozenset({None, 1006, CloseCode.GOING_AWAY, CloseCode.INTERNAL_ERROR,
                             CloseCode.HEARTBEAT_TIMEOUT, CloseCode.TOO_MANY_MESSAGES})
# Messages after which the server closes the connection for good.
FINAL_MESSAGES = frozenset({"session-ended", "removed", "replaced", "turned-away"})
RECONNECT_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0)  # within the server's 30 s grace
FLOOD_PAUSE = 2.0
DEFAULT_TIMEOUT = 10.0


class ClientState(enum.StrEnum):
    CONNECTING = "connecting"
    WAITING = "waiting"  # in the waiting room
    IN_CALL = "in-call"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class ClientRefused(Exception):
    """The server refused the hello (or closed before welcome); ``error`` is its error message, if any."""

    def __init__(self, error: Message | None, close_code: int | None) -> None:
        code = None if error is None else error.get("code")
        super().__init__(f"The server refused the connection: {code or 'no error'} (close {close_code}).")
        self.error = error
        self.close_code = close_code


class SessionClient:
    """One participant of one session, as a real WebRTC peer of everyone else in the call."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        session_id: str | None = None,
        origin: str | None = None,
        ssl: SSLOption = None,
        media: MediaOptions | None = None,
        ice_servers: list[RTCIceServer] | None = None,
        reconnect: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        """``server``: the server's https:// origin (or its wss://.../ws URL); staff also give ``session_id``.

        ``origin`` is sent as the Origin header (default: the server's own). ``ssl``: an SSLContext, or
        False to accept the development certificate. ``ice_servers`` replaces those the server hands out.
        """
        self.ws_url, self.origin = _endpoints(server, origin)
        self.session_id = session_id
        self.media = media or MediaOptions()
        self.timeout = timeout
        self._token = token
        self._ssl = ssl
        self._ice_servers = ice_servers
        self._reconnect = reconnect
        self._http = http
        self._owns_http = http is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._change = asyncio.Event()
        # What the server told us.
        self.state = ClientState.CONNECTING
        self.you: Message | None = None
        self.resume_token: str | None = None
        self.limits: Message = {}
        self.waiting_reason: str | None = None
        self.waiting_room: dict[str, Message] = {}  # the host's view: who waits, with consent_ok
        self.participants: dict[str, Message] = {}  # everyone else in the call
        self.side_room: str | None = None
        self.side_rooms: dict[str, list[str]] = {}
        self.max_kbps: int | None = None
        self.server_ice_servers: list[Message] | None = None
        self.messages: collections.deque[Message] = collections.deque(maxlen=2000)
        self.errors: list[Message] = []
        self.ending: Message | None = None  # session-ended, removed, replaced or turned-away
        self.close_code: int | None = None
        self.failure: Exception | None = None  # what stopped the client, when it was not the server
        # The call.
        self.peers: dict[str, PeerLink] = {}
        self.connections = 0  # sockets opened, reconnections included
        self.hello_at: float | None = None  # monotonic, of the latest hello
        self.first_hello_at: float | None = None
        self.admitted_at: float | None = None  # monotonic, of the latest admission

    # --- life cycle ----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the socket, send hello and wait for welcome; ClientRefused when the server says no."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            await self._open(self._token)
        except BaseException:
            await self.close(leave=False)
            raise
        self._runner = asyncio.create_task(self._run(), name="session-client")
        try:
            await self.until(lambda: self.you is not None or self.state is ClientState.CLOSED, what="welcome")
        except BaseException:
            await self.close(leave=False)
            raise
        if self.you is None:
            await self.close(leave=False)
            raise ClientRefused(self.errors[-1] if self.errors else None, self.close_code)

    async def close(self, *, leave: bool = True) -> None:
        """Leave the session (unless ``leave`` is False: then the others see a drop), hang up, close everything."""
        if self._closing:
            return
        self._closing = True
        ws = self._ws
        if ws is not None and not ws.closed:
            await self._flush()
            if leave:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json(_message("leave"))
            await ws.close()
        for task in (self._runner, self._writer):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._hang_up_all()
        if self._owns_http and self._http is not None:
            await self._http.close()
        self._set_state(ClientState.CLOSED)

    def drop_connection(self) -> None:
        """Cut the socket under the WebSocket, no close frame, as a lost network does (for tests)."""
        assert self._ws is not None, "not connected"
        sock = self._ws.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # --- what a participant does -----------------------------------------------------

    def admit(self, participant_id: str) -> None:
        self.send(_message("admit", participant=participant_id))

    def turn_away(self, participant_id: str) -> None:
        self.send(_message("turn-away", participant=participant_id))

    def send_to_waiting_room(self, participant_id: str) -> None:
        self.send(_message("send-to-waiting-room", participant=participant_id))

    def end_session(self) -> None:
        self.send(_message("end-session"))

    def media_state(self, *, audio: bool, video: bool, screen: bool = False) -> None:
        self.send(_message("media-state", audio=audio, video=video, screen=screen))

    def ping(self, nonce: int) -> None:
        self.send(_message("ping", nonce=nonce))

    def send(self, message: Message) -> None:
        """Queue one message (``v`` is added); dropped if the socket is down when its turn comes."""
        self._outbox.put_nowait({"v": PROTOCOL_VERSION, **message})

    # --- what tests and benchmarks read -------------------------------------------------

    @property
    def participant_id(self) -> str | None:
        return None if self.you is None else str(self.you["id"])

    @property
    def role(self) -> str | None:
        return None if self.you is None else str(self.you["role"])

    def safety_code(self, peer_id: str) -> str | None:
        link = self.peers.get(peer_id)
        return None if link is None else link.safety_code

    def frames_from(self, peer_id: str, kind: str = "video") -> int:
        link = self.peers.get(peer_id)
        return 0 if link is None else link.frames(kind)

    def first_frame_after_hello(self, peer_id: str, kind: str = "video") -> float | None:
        """Seconds from the latest hello to the first frame from this peer; None before it came."""
        link = self.peers.get(peer_id)
        track = None if link is None else link.received.get(kind)
        if track is None or track.first_at is None or self.hello_at is None:
            return None
        return track.first_at - self.hello_at

    async def until(self, predicate: Callable[[], bool], timeout: float | None = None, what: str = "") -> None:
        """Wait until ``predicate()`` holds; TimeoutError naming ``what`` and the client's state otherwise."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what or 'condition'} not reached within {limit:g} s; {self.describe()}")
            change = self._change
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), min(remaining, 0.5))

    async def until_admitted(self, timeout: float | None = None) -> None:
        await self.until(lambda: self.state is ClientState.IN_CALL, timeout, "admitted")

    async def until_waiting(self, participant_id: str, timeout: float | None = None) -> Message:
        """The host's view of someone in the waiting room, once they are there."""
        await self.until(lambda: participant_id in self.waiting_room, timeout, f"{participant_id} waiting")
        return self.waiting_room[participant_id]

    async def until_frames(
        self, peer_id: str, count: int = 1, kind: str = "video", timeout: float | None = None
    ) -> None:
        await self.until(lambda: self.frames_from(peer_id, kind) >= count, timeout, f"{count} {kind} from {peer_id}")

    async def until_safety_code(self, peer_id: str, timeout: float | None = None) -> str:
        await self.until(lambda: self.safety_code(peer_id) is not None, timeout, f"safety code with {peer_id}")
        return str(self.safety_code(peer_id))

    def describe(self) -> str:
        peers = {pid: (link.state, link.frames()) for pid, link in self.peers.items()}
        recent = [m.get("type") for m in list(self.messages)[-8:]]
        return (f"client {self.participant_id} state={self.state} close={self.close_code} failure={self.failure!r} "
                f"peers={peers} "
                f"errors={[e.get('code') for e in self.errors]} recent={recent}")

    # --- the socket --------------------------------------------------------------------

    async def _open(self, token: str) -> None:
        assert self._http is not None
        url = URL(self.ws_url)
        if self.session_id is not None:
            url = url.with_query(session=self.session_id)
        ws = await self._http.ws_connect(
            url, headers={"Origin": self.origin}, ssl=self._ssl, heartbeat=None, autoping=True,
            max_msg_size=MAX_FRAME_BYTES, timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
        )
        self._ws, self.connections = ws, self.connections + 1
        self._outbox = asyncio.Queue()
        self._writer = asyncio.create_task(self._write(ws, self._outbox), name="session-client-writer")
        self.hello_at = time.monotonic()
        self.first_hello_at = self.first_hello_at or self.hello_at
        self._outbox.put_nowait(_message("hello", token=token))

    async def _write(self, ws: aiohttp.ClientWebSocketResponse, outbox: asyncio.Queue[Message]) -> None:
        while True:
            message = await outbox.get()
            try:
                await ws.send_str(json.dumps(message))
            except (ConnectionError, RuntimeError):
                return  # the socket is gone; the reader sees it and reconnects
            finally:
                outbox.task_done()

    async def _flush(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox.join(), 1.0)

    async def _run(self) -> None:
        try:
            await self._serve()
        except Exception as error:  # a bug here must show in the test's failure, not hang it until a timeout
            log.exception("the session client failed")
            self.failure = error
            if self._ws is not None:
                await self._ws.close()
            await self._hang_up_all()
            self._set_state(ClientState.CLOSED)

    async def _serve(self) -> None:
        """Read until the socket closes; come back with the resume token when the protocol says to."""
        while True:
            assert self._ws is not None
            self.close_code = await self._read(self._ws)
            if self._writer is not None:
                self._writer.cancel()
            if self._closing:
                return
            await self._hang_up_all()
            if not self._should_reconnect():
                self._set_state(ClientState.CLOSED)
                return
            self._set_state(ClientState.RECONNECTING)
            if not await self._reopen():
                self._set_state(ClientState.CLOSED)
                return

    def _should_reconnect(self) -> bool:
        return (self._reconnect and self.resume_token is not None and self.ending is None
                and self.close_code in RECONNECT_AFTER)

    async def _reopen(self) -> bool:
        # A connection closed for flooding comes back after a pause, the others at once.
        pause = FLOOD_PAUSE if self.close_code == CloseCode.TOO_MANY_MESSAGES else 0.0
        for delay in RECONNECT_DELAYS:
            await asyncio.sleep(pause + delay)
            try:
                await self._open(str(self.resume_token))
                return True
            except (aiohttp.ClientError, OSError) as error:
                log.info("reconnecting failed (%s); trying again", error)
        return False

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> int | None:
        """Handle messages until the socket closes; its close code (None when it died without one)."""
        while True:
            try:
                frame = await ws.receive(timeout=SILENCE_TIMEOUT_SECONDS)
            except TimeoutError:  # nothing heard for too long: the protocol says to reconnect
                await ws.close()
                return None
            if frame.type is aiohttp.WSMsgType.TEXT:
                message = json.loads(frame.data)
                self.messages.append(message)
                await self._handle(message)
                self._notify()
            elif frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.ERROR):
                code = ws.close_code
                return None if code == 1006 else code

    # --- the protocol --------------------------------------------------------------------

    async def _handle(self, message: Message) -> None:
        kind = message.get("type")
        handler = getattr(self, "_on_" + str(kind).replace("-", "_"), None)
        if kind in FINAL_MESSAGES:
            self.ending = message
        if handler is not None:
            await handler(message)

    async def _on_welcome(self, message: Message) -> None:
        self.you, self.session_id, self.limits = message["you"], message["room"], message["limits"]
        self.resume_token = message.get("resume") or self.resume_token

    async def _on_waiting(self, message: Message) -> None:
        self.waiting_reason = message["reason"]
        self.participants.clear()
        await self._hang_up_all()
        self._set_state(ClientState.WAITING)

    async def _on_admitted(self, message: Message) -> None:
        # First admission or a return after a reconnection: the others wait for our fresh offers.
        await self._hang_up_all()
        self.admitted_at, self.waiting_reason = time.monotonic(), None
        self.server_ice_servers = message.get("ice_servers", self.server_ice_servers)
        self.participants = {view["id"]: view for view in message["participants"]}
        self.side_room, self.side_rooms = message["side_room"], message["side_rooms"]
        self._set_state(ClientState.IN_CALL)
        for peer_id in message["call"]:
            self._call(peer_id)

    async def _on_participant_waiting(self, message: Message) -> None:
        self.waiting_room[message["participant"]["id"]] = message["participant"]

    async def _on_participant_left_waiting(self, message: Message) -> None:
        self.waiting_room.pop(message["participant"], None)

    async def _on_presence(self, message: Message) -> None:
        view, event = message["participant"], message["event"]
        if event == "left":
            self.participants.pop(view["id"], None)
        else:
            self.participants[view["id"]] = view
        if event in ("left", "dropped", "reconnected"):
            await self._hang_up(view["id"])  # on reconnected, their new offer follows

    async def _on_offer(self, message: Message) -> None:
        link = self.peers.get(message["from"]) or self._link(message["from"])
        if link is not None:
            link.receive_description("offer", message["sdp"])

    async def _on_answer(self, message: Message) -> None:
        if (link := self.peers.get(message["from"])) is not None:
            link.receive_description("answer", message["sdp"])

    async def _on_candidate(self, message: Message) -> None:
        if (link := self.peers.get(message["from"])) is not None:
            link.receive_candidate(message)

    async def _on_side_room_changed(self, message: Message) -> None:
        self.side_room, self.side_rooms = message["side_room"], message["side_rooms"]
        for peer_id in message["hang_up"]:
            await self._hang_up(peer_id)
        for peer_id in message["call"]:
            self._call(peer_id)

    async def _on_bitrate(self, message: Message) -> None:
        self.max_kbps = message["max_kbps"]  # aiortc has no per-sender cap to apply it to; kept for reports

    async def _on_ping(self, message: Message) -> None:
        self.send(_message("pong", nonce=message["nonce"]))

    async def _on_error(self, message: Message) -> None:
        self.errors.append(message)
        log.info("the server refused a %s: %s (%s)", message.get("refused"), message.get("code"), message.get("detail"))

    # --- the mesh ------------------------------------------------------------------------

    def _call(self, peer_id: str) -> None:
        if peer_id not in self.peers and (link := self._link(peer_id)) is not None:
            link.offer()

    def _link(self, peer_id: str) -> PeerLink | None:
        if self.state is not ClientState.IN_CALL or peer_id == self.participant_id or self.participant_id is None:
            return None
        servers = self._ice_servers
        if servers is None:
            servers = [RTCIceServer(**server) for server in self.server_ice_servers or []]
        link = PeerLink(peer_id, self.participant_id, RTCConfiguration(iceServers=servers), self.media,
                        self.send, self._notify)
        self.peers[peer_id] = link
        return link

    async def _hang_up(self, peer_id: str) -> None:
        link = self.peers.pop(peer_id, None)
        if link is not None:
            await link.close()

    async def _hang_up_all(self) -> None:
        for peer_id in list(self.peers):
            await self._hang_up(peer_id)

    def _set_state(self, state: ClientState) -> None:
        self.state = state
        self._notify()

    def _notify(self) -> None:
        self._change.set()
        self._change = asyncio.Event()


def _message(kind: str, **fields: Any) -> Message:
    return {"v": PROTOCOL_VERSION, "type": kind, **fields}


def _endpoints(server: str, origin: str | None) -> tuple[str, str]:
    """The /ws URL and the Origin to send, from the server's https:// origin or its wss:// URL."""
    url = URL(server)
    schemes = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
    if url.scheme not in schemes or not url.host:
        raise ValueError(f"Not a server address: {server!r} (expected https://host:port or wss://host:port/ws).")
    ws_url = url.with_scheme(schemes[url.scheme])
    if url.scheme in ("https", "http") or url.path in ("", "/"):
        ws_url = ws_url.with_path("/ws")
    own_origin = str(url.with_scheme("https" if ws_url.scheme == "wss" else "http").origin())
    return str(ws_url.with_query(None)), origin or own_origin
