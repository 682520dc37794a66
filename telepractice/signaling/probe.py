"""The connection-test peer: an aiortc RTCPeerConnection that echoes a browser's video and pings back.

Before joining, a page sends an SDP offer (every candidate in it, no trickle)
to ``POST /api/probe``; the server answers with a peer that sends back the
video it receives and answers every ping on the data channel with the same
message, so the page measures round-trip time, loss, jitter and bitrate over
the path its call will take. The ping channel is agreed in advance
(``PING_CHANNEL_ID``, unordered, never retransmitted) rather than opened in
band, so that only the association's own handshake stands between a page and
its first answered ping: an in-band channel adds an opening message and its
acknowledgement, and sends ordered until that comes (RFC 8832), so one lost
ping could hold back the ones behind it. aiortc decodes and re-encodes what
it echoes (~30% of a core at 640x480), so each probe is bounded: how many run
at once, how long each may last, how often one person may start one, and the
video bitrate the answer allows (``b=AS``, which browsers obey when sending).

When the server has TURN configured, the peer also gathers a relay candidate
through it (a credential of its own that lasts one test): a browser that can
reach the server only through TURN then has a relay-to-relay path, even where
coturn refuses, as production coturn must, to relay to the server's own
private address. Gathering waits for that allocation (at most aioice's 5 s
when coturn does not answer) before the answer goes back.

No HTTP here: ``telepractice/signaling/probe_routes.py`` is the transport.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from telepractice.errors import UserError
from telepractice.signaling import turn
from telepractice.signaling.turn import TurnConfig
from telepractice.storage.models import new_id

log = logging.getLogger("telepractice.probe")

MAX_PING_CHARS = 256  # a ping is a counter and a timestamp; anything longer is not echoed
# The page's data channel (web/js/connection-test.js) uses the same id, agreed out of band.
PING_CHANNEL_ID = 0
PROBE_RECORD_SECONDS = 600.0  # how long a finished probe's id is kept for its result to be stored


class ProbeBusy(UserError):
    status, code, title = 429, "probe-busy", "The server is running as many connection tests as it allows; try again shortly."

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class ProbeRateLimited(UserError):
    status, code, title = 429, "probe-rate-limited", "You have tested your connection many times; try again later."

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class ProbeRefused(UserError):
    status, code, title = 422, "probe-offer-refused", "The connection test could not use this offer."


@dataclasses.dataclass(frozen=True)
class ProbeLimits:
    """What one server spends on connection tests."""

    max_concurrent: int = 4
    max_seconds: float = 20.0
    per_person: int = 6  # probes one person may start per window
    window_seconds: float = 600.0
    max_kbps: int = 600  # video each way, announced as b=AS in the answer


@dataclasses.dataclass
class Probe:
    """One running (or finished) test: whose, since when, and its connection while it runs."""

    id: str
    who: tuple[str, str]  # (session id, participant or staff id)
    started_at: float
    pc: RTCPeerConnection | None
    closer: asyncio.Task[None] | None = None
    ended_at: float | None = None


class EchoTrack(MediaStreamTrack):
    """Sends back every frame received on ``source`` (aiortc re-encodes it)."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source

    async def recv(self):  # type: ignore[no-untyped-def]
        try:
            return await self._source.recv()
        except MediaStreamError:
            self.stop()
            raise


def limit_video_bitrate(sdp: str, kbps: int) -> str:
    """The SDP with ``b=AS:kbps`` in each video section (after its c= line), replacing any b= there."""
    out: list[str] = []
    in_video = False
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        if in_video and line.startswith("b="):
            continue
        out.append(line)
        if in_video and line.startswith("c="):
            out.append(f"b=AS:{kbps}")
    return "\r\n".join(out)


def ping_channel(pc: RTCPeerConnection) -> RTCDataChannel:
    """The ping channel on ``pc``, as the page makes it too: agreed in advance, unordered, never retransmitted."""
    return pc.createDataChannel("probe", negotiated=True, id=PING_CHANNEL_ID, ordered=False, maxRetransmits=0)


def probe_configuration(config: TurnConfig | None, probe_id: str, now: float, max_seconds: float) -> RTCConfiguration:
    """The probe peer's ICE configuration: host candidates only without TURN, and a relay one with it."""
    if config is None:
        return RTCConfiguration(iceServers=[])
    servers = turn.for_probe(config, probe_id, now, max_seconds)
    return RTCConfiguration(iceServers=[RTCIceServer(**server) for server in servers])


class ProbeService:
    """The connection tests of one server; ``close_all`` at shutdown."""

    def __init__(
        self,
        limits: ProbeLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        turn_config: TurnConfig | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits or ProbeLimits()
        self.turn_config = turn_config
        self._clock = clock
        self._wall_clock = wall_clock  # TURN credentials expire in Unix time
        self._probes: dict[str, Probe] = {}
        self._starts: dict[tuple[str, str], collections.deque[float]] = {}

    @property
    def running(self) -> int:
        return sum(1 for probe in self._probes.values() if probe.pc is not None)

    def probe_of(self, probe_id: str, who: tuple[str, str]) -> Probe | None:
        """A probe this person started (running or finished lately), or None."""
        probe = self._probes.get(probe_id)
        return probe if probe is not None and probe.who == who else None

    async def start(self, who: tuple[str, str], offer_sdp: str) -> tuple[str, str]:
        """Answer ``offer_sdp`` with an echoing peer for ``who``; returns (probe id, answer SDP)."""
        now = self._clock()
        self._forget(now)
        await self._close_running_of(who)  # a page that tests again replaces its own test
        self._admit(who, now)
        probe_id = new_id()
        configuration = probe_configuration(self.turn_config, probe_id, self._wall_clock(), self.limits.max_seconds)
        probe = Probe(probe_id, who, now, RTCPeerConnection(configuration))
        self._probes[probe.id] = probe
        try:
            answer = await self._answer(probe, offer_sdp)
        except Exception as error:
            await self.close(probe.id)
            log.info("connection test refused an offer: %s", error)
            raise ProbeRefused(f"The offer could not be answered: {error}") from None
        probe.closer = asyncio.create_task(self._close_later(probe.id), name=f"probe-{probe.id}")
        return probe.id, answer

    def _admit(self, who: tuple[str, str], now: float) -> None:
        limits = self.limits
        if self.running >= limits.max_concurrent:
            raise ProbeBusy(f"{limits.max_concurrent} connection tests are running.", int(limits.max_seconds))
        starts = self._starts.setdefault(who, collections.deque())
        while starts and now - starts[0] >= limits.window_seconds:
            starts.popleft()
        if len(starts) >= limits.per_person:
            wait = int(limits.window_seconds - (now - starts[0])) + 1
            raise ProbeRateLimited(
                f"{limits.per_person} connection tests in {limits.window_seconds / 60:g} minutes; try again in {wait} s.",
                wait,
            )
        starts.append(now)

    async def _answer(self, probe: Probe, offer_sdp: str) -> str:
        pc = probe.pc
        assert pc is not None

        @pc.on("track")
        def echo(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                pc.addTrack(EchoTrack(track))

        channel = ping_channel(pc)

        @channel.on("message")
        def pong(message: str | bytes) -> None:
            if isinstance(message, str) and len(message) <= MAX_PING_CHARS and channel.readyState == "open":
                channel.send(message)

        @pc.on("connectionstatechange")
        async def ended() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(probe.id)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return limit_video_bitrate(pc.localDescription.sdp, self.limits.max_kbps)

    async def _close_later(self, probe_id: str) -> None:
        await asyncio.sleep(self.limits.max_seconds)
        await self.close(probe_id, from_timer=True)

    async def _close_running_of(self, who: tuple[str, str]) -> None:
        for probe in [p for p in self._probes.values() if p.who == who and p.pc is not None]:
            await self.close(probe.id)

    async def close(self, probe_id: str, *, from_timer: bool = False) -> None:
        """End one probe's connection; its id is kept a while so its result can still be stored."""
        probe = self._probes.get(probe_id)
        if probe is None or probe.pc is None:
            return
        pc, probe.pc = probe.pc, None
        probe.ended_at = self._clock()
        if probe.closer is not None and not from_timer:
            probe.closer.cancel()
        senders = [sender.track for sender in pc.getSenders() if sender.track is not None]
        with contextlib.suppress(Exception):
            await pc.close()
        for track in senders:
            track.stop()

    async def close_all(self) -> None:
        for probe_id in list(self._probes):
            await self.close(probe_id)
        tasks = [p.closer for p in self._probes.values() if p.closer is not None and not p.closer.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, now: float) -> None:
        for probe_id, probe in list(self._probes.items()):
            if probe.pc is None and probe.ended_at is not None and now - probe.ended_at >= PROBE_RECORD_SECONDS:
                del self._probes[probe_id]
        for who, starts in list(self._starts.items()):
            if not starts or now - starts[-1] >= self.limits.window_seconds:
                del self._starts[who]
