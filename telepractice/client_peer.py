"""One aiortc RTCPeerConnection to one remote participant, for telepractice.client.

Negotiation follows web/js/call.js: whoever the server tells to call sends the
offer; in a glare the participant whose id sorts first (impolite) wins and the
other answers instead. aiortc cannot roll an offer back, so a polite link
answers on a fresh connection. aiortc gathers every candidate during
``setLocalDescription`` and puts them in the SDP, so nothing is trickled out;
candidates trickled in (by browsers) are applied once the remote description
is there. Every operation of a link runs in order on one task.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

from telepractice.signaling.safety_code import safety_code_of

log = logging.getLogger("telepractice.client")

Send = Callable[[dict[str, Any]], None]
FINGERPRINT = "a=fingerprint:"
SHA256_FINGERPRINT = "a=fingerprint:sha-256 "


@dataclasses.dataclass(frozen=True)
class MediaOptions:
    """What a client sends: a synthetic camera of this size, and/or silence as its microphone."""

    video: bool = True
    audio: bool = False
    width: int = 160
    height: int = 120


class SyntheticCamera(VideoStreamTrack):
    """A camera that films a screen changing brightness every frame: cheap to make and to encode."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma, chroma = frame.planes[0], frame.planes[1:]
        luma.update(bytes([(self._count * 5) % 256]) * luma.buffer_size)
        for plane in chroma:
            plane.update(bytes([128]) * plane.buffer_size)
        self._count += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclasses.dataclass
class ReceivedTrack:
    """What arrived on one remote track: how many frames, when the first and the latest came (monotonic)."""

    kind: str
    frames: int = 0
    first_at: float | None = None
    last_at: float | None = None
    size: tuple[int, int] | None = None  # video: the latest frame's width and height


class PeerLink:
    """The connection to one remote participant, made when the server says to call them or their offer arrives."""

    def __init__(
        self,
        remote_id: str,
        self_id: str,
        configuration: RTCConfiguration,
        media: MediaOptions,
        send: Send,
        changed: Callable[[], None],
    ) -> None:
        self.remote_id = remote_id
        self.polite = self_id > remote_id
        self.created_at = time.monotonic()
        self.connected_at: float | None = None
        self.safety_code: str | None = None
        self.received: dict[str, ReceivedTrack] = {}  # "video", "audio", then "video:2" for a second video track
        self.errors: list[BaseException] = []
        self.closed = False
        self._configuration = configuration
        self._media = media
        self._send = send
        self._changed = changed
        self._pending_candidates: list[dict[str, Any]] = []
        self._readers: set[asyncio.Task[None]] = set()
        self._operations: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self.pc = self._new_connection()
        self._worker = asyncio.create_task(self._work(), name=f"peer-link-{remote_id}")

    # --- what the client asks for, in order ------------------------------------

    def offer(self) -> None:
        self._operations.put_nowait(self._offer)

    def receive_description(self, kind: str, sdp: str) -> None:
        self._operations.put_nowait(lambda: self._receive_description(kind, sdp))

    def receive_candidate(self, message: dict[str, Any]) -> None:
        self._operations.put_nowait(lambda: self._receive_candidate(message))

    @property
    def state(self) -> str:
        return "closed" if self.closed else self.pc.connectionState

    def frames(self, key: str = "video") -> int:
        track = self.received.get(key)
        return 0 if track is None else track.frames

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        await self._close_connection()
        self._changed()

    # --- the connection ------------------------------------------------------------

    def _new_connection(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._configuration)
        # Audio then video, sendrecv even without a track, as the browser does: the m-lines pair up either way.
        if self._media.audio:
            pc.addTrack(AudioStreamTrack())
        else:
            pc.addTransceiver("audio", direction="sendrecv")
        if self._media.video:
            pc.addTrack(SyntheticCamera(self._media.width, self._media.height))
        else:
            pc.addTransceiver("video", direction="sendrecv")
        pc.on("track", lambda track: self._watch(pc, track))
        pc.on("connectionstatechange", lambda: self._connection_state(pc))
        return pc

    async def _close_connection(self) -> None:
        senders = [sender.track for sender in self.pc.getSenders() if sender.track is not None]
        await self.pc.close()
        for track in senders:
            track.stop()
        for reader in list(self._readers):
            reader.cancel()
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)

    def _connection_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self.pc:
            return
        if pc.connectionState == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()
        self._changed()

    def _watch(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        if pc is not self.pc:
            return
        # The first track of a kind is the camera (or microphone); later ones, such as a shared screen, get a number.
        same_kind = sum(1 for received in self.received.values() if received.kind == track.kind)
        key = track.kind if same_kind == 0 else f"{track.kind}:{same_kind + 1}"
        received = self.received[key] = ReceivedTrack(track.kind)
        reader = asyncio.create_task(self._read(track, received), name=f"receive-{track.kind}-{self.remote_id}")
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)

    async def _read(self, track: MediaStreamTrack, received: ReceivedTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:  # the track ended: the connection closed
                return
            now = time.monotonic()
            if received.first_at is None:
                received.first_at = now
            received.frames += 1
            received.last_at = now
            if isinstance(frame, VideoFrame):
                received.size = (frame.width, frame.height)
            if received.frames == 1 or received.frames % 10 == 0:
                self._changed()

    # --- negotiation ---------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            operation = await self._operations.get()
            try:
                await operation()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # one failed step must not end the link; the test sees it in errors
                log.warning("peer link to %s: %s", self.remote_id, error)
                self.errors.append(error)
            self._changed()

    async def _offer(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self._send({"type": "offer", "to": self.remote_id, "sdp": sha256_fingerprint_only(self.pc.localDescription.sdp)})

    async def _receive_description(self, kind: str, sdp: str) -> None:
        if kind == "answer":
            if self.pc.signalingState != "have-local-offer":
                return  # an answer to an offer this link has since given up
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        else:
            if self.pc.signalingState == "have-local-offer":
                if not self.polite:
                    return  # glare: our offer wins; theirs and its candidates are ignored
                await self._close_connection()  # aiortc cannot roll back, so answer on a fresh connection
                self.pc = self._new_connection()
                self.safety_code = None
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self._send({"type": "answer", "to": self.remote_id, "sdp": sha256_fingerprint_only(self.pc.localDescription.sdp)})
        self.safety_code = safety_code_of(self.pc)
        pending, self._pending_candidates = self._pending_candidates, []
        for message in pending:
            await self._receive_candidate(message)

    async def _receive_candidate(self, message: dict[str, Any]) -> None:
        if self.pc.remoteDescription is None:
            self._pending_candidates.append(message)
            return
        text = message.get("candidate") or ""
        if not text:
            await self.pc.addIceCandidate(None)  # end of candidates
            return
        candidate = candidate_from_sdp(text.removeprefix("candidate:"))
        candidate.sdpMid = message.get("sdp_mid")
        candidate.sdpMLineIndex = message.get("sdp_mline_index")
        await self.pc.addIceCandidate(candidate)


def sha256_fingerprint_only(sdp: str) -> str:
    """The SDP with only its sha-256 ``a=fingerprint`` lines (when it has any), so both ends hash the same one.

    aiortc offers sha-256, sha-384 and sha-512 fingerprints of one certificate;
    Chromium keeps one of them (the sha-512) in its ``remoteDescription``, so
    the browser's safety code would hash a different line than ours. With the
    sha-256 alone, which every browser sends, both ends see the same.
    """
    lines = sdp.split("\r\n")
    if not any(line.lower().startswith(SHA256_FINGERPRINT) for line in lines):
        return sdp
    return "\r\n".join(
        line for line in lines
        if not line.startswith(FINGERPRINT) or line.lower().startswith(SHA256_FINGERPRINT)
    )
