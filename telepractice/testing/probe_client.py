"""An aiortc stand-in for the browser's connection test: offer, echoed video, data-channel round trips.

Used by tests of the probe peer (and usable on degraded links): it measures
what web/js/connection-test.js measures, from the Python side, so the server's
half can be tested without a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import ssl as ssl_module
import statistics
import time
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from telepractice.client_peer import SyntheticCamera
from telepractice.signaling.probe import ping_channel


@dataclasses.dataclass
class ProbeRun:
    """What one test saw: the HTTP answer, round trips, echoed frames."""

    status: int
    body: dict[str, Any]
    rtts_ms: list[float] = dataclasses.field(default_factory=list)
    pings_sent: int = 0
    frames_back: int = 0
    connected: bool = False

    @property
    def rtt_ms(self) -> float | None:
        return statistics.median(self.rtts_ms) if self.rtts_ms else None


async def post_offer(origin: str, token: str, sdp: str, session: str | None = None,
                     ssl: ssl_module.SSLContext | bool | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"sdp": sdp}
    if session is not None:
        body["session"] = session
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{origin}/api/probe", json=body, ssl=ssl,
                                   headers={"Authorization": f"Bearer {token}"})
        return response.status, await response.json()


async def run_probe(origin: str, token: str, *, seconds: float = 3.0, session: str | None = None,
                    ssl: ssl_module.SSLContext | bool | None = None, ping_every: float = 0.2) -> ProbeRun:
    """Run one connection test for ``seconds``; the peer is closed at the end whatever happened."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(SyntheticCamera(160, 120))
    channel = ping_channel(pc)
    run = ProbeRun(0, {})
    sent: dict[int, float] = {}
    readers: list[asyncio.Task[None]] = []

    @channel.on("message")
    def pong(message: str) -> None:
        seq = json.loads(message)["seq"]
        if seq in sent:
            run.rtts_ms.append((time.monotonic() - sent.pop(seq)) * 1000)

    @pc.on("track")
    def echoed(track: MediaStreamTrack) -> None:
        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    run.frames_back += 1
        readers.append(asyncio.create_task(read()))

    try:
        await pc.setLocalDescription(await pc.createOffer())
        run.status, run.body = await post_offer(origin, token, pc.localDescription.sdp, session, ssl)
        if run.status != 200:
            return run
        await pc.setRemoteDescription(RTCSessionDescription(sdp=run.body["sdp"], type="answer"))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            run.connected = run.connected or pc.connectionState == "connected"
            if channel.readyState == "open":
                run.pings_sent += 1
                sent[run.pings_sent] = time.monotonic()
                channel.send(json.dumps({"seq": run.pings_sent}))
            await asyncio.sleep(ping_every)
        return run
    finally:
        senders = [s.track for s in pc.getSenders() if s.track is not None]
        await pc.close()
        for track in senders:
            track.stop()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
