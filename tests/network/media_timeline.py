"""A timeline of a call page's media, for degraded-link tests: getStats of every link a few times a second.

`start(page)` makes the page record, for each peer connection, what was sent
and received (frames, packets, keyframe requests), the encoder's limits and
target, the ICE state and the selected pair, and the quality watch's mode
and judgement (quality.js's `assessed` events). `read(page)` brings the rows
back; the functions below find when something first happened after a moment
(a cut, a clear) and print the rows around it. Times are the pages' Date.now()
in milliseconds: the browsers run on this machine, so `now_ms()` in the test
is on the same clock. Recording is bounded (`most` rows per link).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from playwright.async_api import Page

Row = dict[str, Any]

RECORD = """
([everyMs, most]) => {
  const { call, quality } = window.telepractice;
  const timeline = { rows: [], events: [] };
  for (const type of ['mode', 'audio-only', 'ice-restart', 'assessed']) {
    quality.on(type, (value) => {
      timeline.events.push({ t: Date.now(), type, ...(typeof value === 'object' ? value : { value }) });
    });
  }
  const pick = (entry, names) => Object.fromEntries(names.map((name) => [name, entry[name] ?? null]));
  let taken = 0;
  const take = async () => {
    for (const [peer, link] of call.peers) {
      const report = await link.pc.getStats();
      const encoding = link.cameraSender?.getParameters().encodings?.[0] ?? {};
      const row = {
        t: Date.now(), peer, ice: link.pc.iceConnectionState, mode: quality.modes()[peer] ?? null,
        ufrag: /a=ice-ufrag:(\\S+)/.exec(link.pc.localDescription?.sdp ?? '')?.[1] ?? null,
        camera: Boolean(link.cameraSender?.track), scale: encoding.scaleResolutionDownBy ?? null,
        maxBitrate: encoding.maxBitrate ?? null, in: null, out: null, remote: null, pair: null, audioIn: null,
      };
      let pairId = null;
      report.forEach((entry) => {
        if (entry.type === 'transport' && entry.selectedCandidatePairId) pairId = entry.selectedCandidatePairId;
      });
      report.forEach((entry) => {
        if (entry.type === 'inbound-rtp' && entry.kind === 'video' && !row.in) {
          row.in = pick(entry, ['framesDecoded', 'framesReceived', 'keyFramesDecoded', 'packetsReceived', 'packetsLost',
            'pliCount', 'firCount', 'nackCount', 'frameWidth', 'freezeCount', 'bytesReceived', 'framesDropped',
            'jitterBufferDelay', 'jitterBufferTargetDelay', 'jitterBufferEmittedCount']);
        }
        if (entry.type === 'outbound-rtp' && entry.kind === 'video' && !row.out) {
          row.out = pick(entry, ['framesSent', 'framesEncoded', 'keyFramesEncoded', 'packetsSent', 'bytesSent',
            'frameWidth', 'frameHeight', 'targetBitrate', 'qualityLimitationReason', 'pliCount', 'firCount',
            'nackCount', 'retransmittedPacketsSent']);
        }
        if (entry.type === 'remote-inbound-rtp' && entry.kind === 'video') {
          row.remote = pick(entry, ['packetsLost', 'fractionLost', 'roundTripTime']);
        }
        if (entry.type === 'inbound-rtp' && entry.kind === 'audio') row.audioIn = entry.packetsReceived ?? null;
        if (entry.id === pairId) {
          row.pair = pick(entry, ['state', 'currentRoundTripTime', 'availableOutgoingBitrate', 'requestsSent',
            'responsesReceived', 'packetsReceived']);
        }
      });
      timeline.rows.push(row);
    }
  };
  const timer = setInterval(() => {
    if (++taken > most) clearInterval(timer);
    else void take().catch(() => {});
  }, everyMs);
  window.__timeline = timeline;
}
"""


def now_ms() -> float:
    """This machine's clock, as the pages' Date.now() reads it."""
    return time.time() * 1000


async def start(page: Page, every_ms: int = 250, most: int = 480) -> None:
    """Record the page's links every ``every_ms`` ms, at most ``most`` times (2 minutes by default)."""
    await page.evaluate(RECORD, [every_ms, most])


async def read(page: Page) -> tuple[list[Row], list[Row]]:
    """The rows and the quality watch's events recorded so far."""
    timeline = await page.evaluate("() => window.__timeline")
    return timeline["rows"], timeline["events"]


async def until(page: Page, peer: str, since: float, happened: Callable[[Row], bool], timeout: float = 30.0) -> Row:
    """The first row of ``peer``'s link taken after ``since`` where ``happened``, waiting for it (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        rows, events = await read(page)
        for row in of(rows, peer):
            if row["t"] > since and happened(row):
                return row
        if time.monotonic() > deadline:
            mine = of(rows, peer)
            raise AssertionError(f"not seen within {timeout:g} s; the last rows and the quality watch's events:\n"
                                 + table(mine[-40:], since, since, now_ms()) + "\n"
                                 + judgements(events[-40:], since, since, now_ms()))
        await asyncio.sleep(0.25)


def of(rows: Sequence[Row], peer: str) -> list[Row]:
    return [row for row in rows if row["peer"] == peer]


def value(row: Row, path: str) -> Any:
    """``row['in']['framesDecoded']`` as ``value(row, 'in.framesDecoded')``; None where missing."""
    found: Any = row
    for part in path.split("."):
        if not isinstance(found, dict):
            return None
        found = found.get(part)
    return found


def at(rows: Sequence[Row], t: float) -> Row | None:
    """The last row taken at or before ``t``."""
    before = [row for row in rows if row["t"] <= t]
    return before[-1] if before else None


def first(rows: Sequence[Row], since: float, happened: Callable[[Row], bool]) -> float | None:
    """Seconds from ``since`` to the first row after it where ``happened``; None if never."""
    for row in rows:
        if row["t"] > since and happened(row):
            return (row["t"] - since) / 1000
    return None


def grew(rows: Sequence[Row], since: float, path: str, by: int = 1) -> float | None:
    """Seconds from ``since`` until the counter at ``path`` grew by ``by`` over its value then."""
    base = value(at(rows, since) or {}, path) or 0
    return first(rows, since, lambda row: (value(row, path) or 0) >= base + by)


COLUMNS = (
    ("ice", "ice"), ("mode", "mode"), ("cam", "camera"), ("scale", "scale"),
    ("fDec", "in.framesDecoded"), ("wIn", "in.frameWidth"), ("fRcv", "in.framesReceived"),
    ("keyDec", "in.keyFramesDecoded"),
    ("pktIn", "in.packetsReceived"), ("lostIn", "in.packetsLost"), ("pliOut", "in.pliCount"),
    ("fEnc", "out.framesEncoded"), ("fSent", "out.framesSent"), ("keyEnc", "out.keyFramesEncoded"),
    ("pktOut", "out.packetsSent"), ("pliIn", "out.pliCount"), ("firIn", "out.firCount"), ("w", "out.frameWidth"),
    ("target", "out.targetBitrate"), ("limit", "out.qualityLimitationReason"),
    ("avail", "pair.availableOutgoingBitrate"), ("rtt", "pair.currentRoundTripTime"), ("pair", "pair.state"),
    ("lostOut", "remote.packetsLost"), ("audIn", "audioIn"),
)


def table(rows: Sequence[Row], since: float, start: float, end: float) -> str:
    """The rows taken between ``start`` and ``end``, as text, times in seconds from ``since``."""
    lines = ["t(s)  " + " ".join(name for name, _ in COLUMNS)]
    for row in rows:
        if start <= row["t"] <= end:
            cells = []
            for _, path in COLUMNS:
                found = value(row, path)
                if isinstance(found, float):
                    found = round(found, 3)
                cells.append(str(found))
            lines.append(f"{(row['t'] - since) / 1000:5.2f} " + " ".join(cells))
    return "\n".join(lines)


def judgements(events: Sequence[Row], since: float, start: float, end: float) -> str:
    """The quality watch's samples, judgements and steps between ``start`` and ``end``, one line each."""
    lines = []
    for event in events:
        if start <= event["t"] <= end:
            rest = {key: found for key, found in event.items() if key not in ("t", "type")}
            lines.append(f"{(event['t'] - since) / 1000:6.2f} {event['type']} {rest}")
    return "\n".join(lines)


def recovery(receiver: Sequence[Row], sender: Sequence[Row], since: float) -> dict[str, float | None]:
    """How one direction's video came back after ``since`` (a link cleared): seconds to each step, None if never.

    ``receiver`` and ``sender`` are the two ends' rows of the same link: packets arrive again, the
    receiver asks for a keyframe (PLI), the sender encodes one, the receiver decodes it, then 10 frames.
    """
    return {
        "packets": grew(receiver, since, "in.packetsReceived"),
        "keyframe asked": grew(receiver, since, "in.pliCount"),
        "keyframe sent": grew(sender, since, "out.keyFramesEncoded"),
        "keyframe decoded": grew(receiver, since, "in.keyFramesDecoded"),
        "10 frames": grew(receiver, since, "in.framesDecoded", 10),
    }


def said(figures: dict[str, float | None]) -> str:
    return ", ".join(f"{name} {'never' if found is None else f'{found:.2f} s'}" for name, found in figures.items())
