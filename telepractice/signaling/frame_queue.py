"""A signalling socket whose data frames are handled where aiohttp parses them, not after a task switch.

aiohttp parses a WebSocket frame in the protocol's ``data_received`` and
queues it; the handler's ``await ws.receive()`` then resumes on a later turn
of the event loop. Per frame that is a future, a loop callback, a task step
and ``receive()``'s own code: a third of the bare relay's CPU per relayed
message (bench/README.md, "Frames read in place"). Once a connection is in
its room, handling a frame never waits (the room does no I/O and
``Connection.send`` never blocks), so it can run right where the frame is
parsed.

Order holds: a data frame is handed over in place only while nothing is
queued ahead of it. The hello (read before there is a reader), control
frames and any frame behind one go through the queue and ``receive()``
exactly as before, and ``receive()`` keeps answering pings and closing.

This replaces aiohttp's own frame queue, which aiohttp makes in
``WebSocketResponse._post_start``; pyproject.toml holds aiohttp to the
minor version this was written against; tests/unit/test_frame_queue.py
pins the order, and a test in tests/functional/test_signaling_ws.py fails if
a call's frames stop arriving in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp.helpers import DEFAULT_CHUNK_SIZE

_DATA = frozenset({WSMsgType.TEXT, WSMsgType.BINARY})
# aiohttp's receive() answers these and goes on reading: frames after them may still be handled in place.
_ROUTINE = _DATA | {WSMsgType.PING, WSMsgType.PONG}


class FrameQueue(WebSocketDataQueue):
    """aiohttp's frame queue, which hands data frames to ``reader`` instead while one is set and none is queued."""

    __slots__ = ("reader", "in_place")

    def __init__(self, protocol: object, limit: int, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(protocol, limit, loop=loop)
        # Called with each data frame's payload (bytes, text frames included: SignalingResponse); must not raise.
        self.reader: Callable[[bytes], None] | None = None
        self.in_place = 0  # frames handed to the reader, so a test can tell they were

    def feed_data(self, data: object, size: int) -> None:
        reader = self.reader
        if reader is not None:
            kind = data.type  # type: ignore[attr-defined]
            if kind in _DATA and not self._buffer:
                self.in_place += 1
                reader(data.data)  # type: ignore[attr-defined]
                return
            if kind not in _ROUTINE:
                # The peer's close, a protocol error, or our own close: whatever follows waits in the queue,
                # where receive() ends the read loop first.
                self.reader = None
        super().feed_data(data, size)


class SignalingResponse(web.WebSocketResponse):
    """A WebSocket response whose frames go through a ``FrameQueue`` (``frames``), text frames as their bytes.

    Text frames are not decoded to str: the reader's JSON decoder takes UTF-8 bytes as they are (and refuses
    what is not UTF-8), so decoding them here and encoding them again to check them would be two more passes
    over every frame.
    """

    frames: FrameQueue

    def __init__(self, **options: Any) -> None:
        super().__init__(**options, decode_text=False)

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: object) -> None:
        # aiohttp 3.14's _post_start with FrameQueue in place of its WebSocketDataQueue. Nothing may have been
        # parsed before: set_parser feeds the parser what arrived with the upgrade request, so the queue has to
        # be this one from the start.
        self._ws_protocol = protocol
        self._writer = writer  # type: ignore[assignment]
        self._reset_heartbeat()
        assert self._loop is not None
        self.frames = FrameQueue(request._protocol, DEFAULT_CHUNK_SIZE, loop=self._loop)
        self._reader = self.frames
        self._parser = WebSocketReader(self.frames, self._max_msg_size, compress=bool(self._compress),
                                       decode_text=self._decode_text)
        request.protocol.set_parser(self._parser, data_received_cb=None if self._heartbeat is None else
                                    self._on_data_received)
        request.protocol.keep_alive(False)  # as aiohttp: no HTTP keep-alive on a WebSocket
