"""The load client: many WebSocket participants in one process, driven by bench/run.py through a pipe.

One ``Dialect`` per system says how to join and how an offer or a candidate
looks on its wire; everything else is the same for the three systems. Timed
messages carry a fixed-width marker inside the SDP or candidate text,
``!!<kind><monotonic seconds><sequence>``, so the receiving side finds it with
``str.find`` instead of parsing JSON (keeping the client cheap), and since
CLOCK_MONOTONIC is one clock for the whole machine a receiver in another
process can compute the one-way delay. Kinds: Q (a request the partner echoes
back as R: round trips), O (one-way: throughput).

Every loop is bounded by a count or a deadline; every address is 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import uvloop

MARK = "!!"
MARK_WIDTH = 2 + 1 + 17 + 8  # "!!", kind, "%017.6f" seconds, "%08d" sequence
PLACEHOLDER = "#" * MARK_WIDTH
CONNECT_TIMEOUT = 30.0


def marker(kind: str, at: float, seq: int) -> str:
    return f"{MARK}{kind}{at:017.6f}{seq % 100_000_000:08d}"


def read_marker(data: str) -> tuple[str, float, int] | None:
    i = data.find(MARK)
    if i < 0:
        return None
    return data[i + 2], float(data[i + 3:i + 20]), int(data[i + 20:i + 28])


def stringify(message: Any) -> str:
    """A message's JSON as a browser's JSON.stringify writes it (compact, non-ASCII as is), for every system alike:
    the clients each server is built for send it so, and telepractice decodes such text on its fast path."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def pad_to(build: Callable[[str], str], size: int) -> str:
    """The frame ``build(filler)`` makes, with the filler grown until the frame is ``size`` bytes."""
    bare = len(build("").encode())
    return build("x" * max(0, size - bare))


# --- the three wires -----------------------------------------------------------------


class Dialect:
    """How one system's wire looks; ``template`` returns a frame with PLACEHOLDER where the marker goes."""

    name = ""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, who: dict) -> str:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}

    def join_frames(self, who: dict) -> list[str]:
        return []

    def template(self, kind: str, to: str, size: int) -> str:
        raise NotImplementedError


def _sdp(filler: str) -> str:
    # Offer-shaped text; the marker sits in an attribute line the way a real SDP would carry one.
    return f"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=x-bench:{PLACEHOLDER}\r\na=x-pad:{filler}\r\n"


def _candidate(filler: str) -> str:
    return f"candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ host {PLACEHOLDER} {filler}"


class Telepractice(Dialect):
    name = "telepractice"

    def __init__(self, port: int, origin: str) -> None:
        super().__init__(port)
        self.origin = origin

    def url(self, who: dict) -> str:
        session = f"?session={who['session']}" if who.get("staff") else ""
        return f"http://127.0.0.1:{self.port}/ws{session}"

    def headers(self) -> dict[str, str]:
        return {"Origin": self.origin}

    def join_frames(self, who: dict) -> list[str]:
        return [stringify({"v": 1, "type": "hello", "token": who["token"]})]

    def template(self, kind: str, to: str, size: int) -> str:
        if kind in ("offer", "answer"):
            return pad_to(lambda f: stringify({"v": 1, "type": kind, "to": to, "sdp": _sdp(f)}), size)
        return pad_to(lambda f: stringify({"v": 1, "type": "candidate", "to": to, "candidate": _candidate(f),
                                            "sdp_mid": "0", "sdp_mline_index": 0}), size)


class BareRelay(Dialect):
    name = "bare relay"

    def url(self, who: dict) -> str:
        return f"http://127.0.0.1:{self.port}/ws"

    def join_frames(self, who: dict) -> list[str]:
        return [stringify({"type": "join", "room": who["session"], "id": who["id"]})]

    def template(self, kind: str, to: str, size: int) -> str:
        if kind in ("offer", "answer"):
            return pad_to(lambda f: stringify({"type": kind, "to": to, "sdp": _sdp(f)}), size)
        return pad_to(lambda f: stringify({"type": "candidate", "to": to, "candidate": _candidate(f),
                                            "sdp_mid": "0", "sdp_mline_index": 0}), size)


class PeerJS(Dialect):
    name = "PeerJS"

    def url(self, who: dict) -> str:
        return f"http://127.0.0.1:{self.port}/peerjs?key=peerjs&id={who['id']}&token=t{who['id']}"

    def template(self, kind: str, to: str, size: int) -> str:
        if kind in ("offer", "answer"):
            return pad_to(lambda f: stringify({"type": kind.upper(), "dst": to,
                                                "payload": {"sdp": {"type": kind, "sdp": _sdp(f)}}}), size)
        return pad_to(lambda f: stringify({"type": "CANDIDATE", "dst": to, "payload": {"candidate": {
            "candidate": _candidate(f), "sdpMid": "0", "sdpMLineIndex": 0}}}), size)


def dialect(spec: dict) -> Dialect:
    if spec["system"] == "telepractice":
        return Telepractice(spec["port"], spec["origin"])
    if spec["system"] == "relay":
        return BareRelay(spec["port"])
    return PeerJS(spec["port"])


# --- one participant -------------------------------------------------------------------


class Participant:
    """One socket; its reader answers pings, admits (as a host), echoes requests and records timings."""

    def __init__(self, client: LoadClient, who: dict) -> None:
        self.client = client
        self.who = who
        self.id: str = who["id"]
        self.partner: str | None = who.get("partner")
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task | None = None
        self.joined = asyncio.Event()  # in the call (telepractice: admitted; others: joined / open)
        self.peers: set[str] = set()  # relay: who is in the room
        self.peer_seen = asyncio.Event()
        self.templates: dict[tuple[str, int, str], tuple[str, str]] = {}
        self.storm_answers = 0
        self.storm_done = asyncio.Event()

    def frame(self, kind: str, size: int, mark: str, to: str | None = None) -> str:
        key = (kind, size, to or self.partner or "")
        parts = self.templates.get(key)
        if parts is None:
            head, tail = self.client.dialect.template(kind, key[2], size).split(PLACEHOLDER)
            parts = self.templates[key] = (head, tail)
        return parts[0] + mark + parts[1]

    async def open(self) -> None:
        d = self.client.dialect
        self.ws = await self.client.http.ws_connect(d.url(self.who), headers=d.headers(), autoping=True,
                                                    max_msg_size=0, compress=0)
        for text in d.join_frames(self.who):
            await self.ws.send_str(text)
        self.reader = asyncio.create_task(self.read())

    async def send(self, text: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(text)  # type: ignore[union-attr]

    async def read(self) -> None:
        ws = self.ws
        assert ws is not None
        client = self.client
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = frame.data
            found = data.find(MARK)
            if found >= 0:
                kind = data[found + 2]
                now = time.monotonic()
                if kind == "O":
                    client.on_oneway(now - float(data[found + 3:found + 20]))
                elif kind == "Q":
                    await self.send(self.frame(client.echo_kind, client.echo_size, "!!R" + data[found + 3:found + 28]))
                elif kind == "R":
                    client.on_round_trip(now - float(data[found + 3:found + 20]))
                elif kind == "S":
                    await self.on_storm(data)
                continue
            self.on_control(json.loads(data))
        self.joined.set()  # nobody waits forever on a closed socket

    def on_control(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "ping":  # telepractice heartbeat
            asyncio.ensure_future(self.send(stringify({"v": 1, "type": "pong", "nonce": message["nonce"]})))
        elif kind == "admitted" or kind == "OPEN":
            self.joined.set()
        elif kind == "joined":  # bare relay
            self.peers.update(message["peers"])
            self.joined.set()
            self.peer_seen.set()
        elif kind == "peer-joined":
            self.peers.add(message["id"])
            self.peer_seen.set()
        elif kind == "participant-waiting" and message["participant"].get("consent_ok"):
            # A bench host admits everyone whose consent is on record, at once.
            asyncio.ensure_future(self.send(stringify({"v": 1, "type": "admit", "participant": message["participant"]["id"]})))
        elif kind in ("error", "ERROR", "ID-TAKEN"):
            self.client.errors.append(message)

    async def on_storm(self, data: str) -> None:
        message = json.loads(data)
        kind = message.get("type", "").lower()
        sender = message.get("from") or message.get("src")
        if kind == "offer":
            await self.send(self.frame("answer", self.client.storm_size, marker("S", time.monotonic(), 0), to=sender))
        elif kind == "answer":
            self.storm_answers += 1
            self.storm_done.set()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader


# --- one process's share of the load ----------------------------------------------------


class LoadClient:
    """Holds this process's participants and runs the commands bench/run.py sends it."""

    def __init__(self, spec: dict) -> None:
        self.dialect = dialect(spec)
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        self.http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        self.groups: dict[str, list[Participant]] = {}
        self.errors: list[dict] = []
        self.latencies: list[float] = []
        self.received = 0
        self.recording = False
        self.echo_kind, self.echo_size, self.storm_size = "answer", 200, 4096
        self.heartbeat: asyncio.Task | None = None
        if spec["system"] == "peerjs":
            self.heartbeat = asyncio.create_task(self.peerjs_heartbeats())

    def on_oneway(self, delay: float) -> None:
        self.received += 1
        if self.recording:
            self.latencies.append(delay)

    def on_round_trip(self, delay: float) -> None:
        self.received += 1
        if self.recording:
            self.latencies.append(delay)

    async def peerjs_heartbeats(self) -> None:
        """PeerJS drops a client silent for 90 s (alive_timeout); its browser client beats every 5 s."""
        beat = stringify({"type": "HEARTBEAT"})
        while True:
            await asyncio.sleep(20)
            for group in list(self.groups.values()):
                for p in group:
                    await p.send(beat)

    # --- commands ---

    async def connect(self, group: str, people: list[dict], concurrency: int, wait_joined: bool = True,
                      seconds: float = 300.0) -> dict:
        """Open every socket (``concurrency`` at a time) until ``seconds`` have passed; how long it took."""
        gate = asyncio.Semaphore(concurrency)
        members = self.groups.setdefault(group, [])
        failures = skipped = 0
        deadline = time.monotonic() + seconds

        async def one(who: dict) -> None:
            nonlocal failures, skipped
            async with gate:
                if time.monotonic() > deadline:
                    skipped += 1
                    return
                p = Participant(self, who)
                try:
                    await asyncio.wait_for(p.open(), CONNECT_TIMEOUT)
                    members.append(p)
                    if wait_joined:
                        await asyncio.wait_for(p.joined.wait(), CONNECT_TIMEOUT)
                except (OSError, TimeoutError, aiohttp.ClientError) as error:
                    failures += 1
                    if failures <= 3:
                        self.errors.append({"connect": repr(error)})

        started = time.monotonic()
        await asyncio.gather(*(one(who) for who in people))
        return {"seconds": time.monotonic() - started, "failures": failures + skipped, "skipped": skipped,
                "opened": len(members)}

    async def connect_pairs(self, group: str, pairs: list[tuple[dict, dict]], concurrency: int) -> dict:
        """First sides first (telepractice: the hosts), then second sides, each until in the call."""
        first = await self.connect(group, [a for a, _ in pairs], concurrency)
        second = await self.connect(group, [b for _, b in pairs], concurrency)
        if self.dialect.name == "bare relay":  # both ends present before anything is sent
            for p in self.groups[group]:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wait_partner(p), 10)
        # Only pairs whose two sides are both in the call send (telepractice: a family member the host
        # has not admitted within the timeout would only collect not-admitted errors).
        by_session: dict[str, list[Participant]] = {}
        for p in self.groups[group]:
            by_session.setdefault(p.who["session"], []).append(p)
        ready = [p for people in by_session.values() if len(people) == 2 and all(
            x.joined.is_set() and x.ws is not None and not x.ws.closed for x in people) for p in people]
        self.groups[group + ":ready"] = ready
        return {"failures": first["failures"] + second["failures"], "opened": len(self.groups[group]),
                "ready": len(ready) // 2}

    @staticmethod
    async def wait_partner(p: Participant) -> None:
        while p.partner not in p.peers:
            p.peer_seen.clear()
            await p.peer_seen.wait()

    async def close_group(self, group: str) -> dict:
        self.groups.pop(group + ":ready", None)
        members = self.groups.pop(group, [])
        started = time.monotonic()
        for start in range(0, len(members), 500):
            await asyncio.gather(*(p.close() for p in members[start:start + 500]))
        return {"closed": len(members), "seconds": time.monotonic() - started}

    async def load(self, group: str, senders: str, kind: str, size: int, rate: float, start_at: float,
                   duration: float, warmup: float, mode: str) -> dict:
        """Send ``rate`` messages/s from this process's senders, round robin; record what comes back.

        mode "rtt": requests (Q) the partner echoes with a message of the same kind and size; the
        round trip is recorded. mode "oneway": one-way messages (O); the delay at the receiver.
        """
        members = self.groups.get(group + ":ready", self.groups[group])
        sending = members if senders == "all" else [p for p in members if p.who.get("side") == senders]
        self.echo_kind, self.echo_size = ("answer" if kind == "offer" else kind), size
        letter = "Q" if mode == "rtt" else "O"
        self.latencies, self.received, self.recording, self.errors = [], 0, False, []
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        begin = time.monotonic()
        end = begin + warmup + duration
        sent = counted_from = 0
        window_received = 0
        recording_started = False
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if not recording_started and now >= begin + warmup:
                recording_started, self.recording = True, True
                counted_from, window_received = sent, self.received
            due = int((now - begin) * rate) - sent
            for _ in range(min(due, 2000)):
                p = sending[sent % len(sending)]
                sent += 1
                await p.send(p.frame(kind, size, marker(letter, time.monotonic(), sent)))
            await asyncio.sleep(0.002)
        self.recording = False
        await asyncio.sleep(0.5)  # stragglers still count as delivered, not as latencies
        return {"sent": sent - counted_from, "received": self.received - window_received,
                "latencies": self.latencies, "errors": self.errors[-3:]}

    async def storm(self, rooms: list[list[dict]], start_at: float, size: int) -> dict:
        """All of these rooms' participants join at once; each non-host offers to the host, who answers."""
        self.storm_size, self.errors = size, []
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        began = time.monotonic()
        members = self.groups.setdefault("storm", [])
        failures = 0

        async def one(who: dict) -> float:
            nonlocal failures
            p = Participant(self, who)
            members.append(p)
            try:
                await asyncio.wait_for(self.storm_one(p), 30)
            except (OSError, TimeoutError, aiohttp.ClientError) as error:
                failures += 1
                self.errors.append({"storm": repr(error)})
            return time.monotonic() - began

        finished = await asyncio.gather(*(one(who) for room in rooms for who in room))
        return {"seconds": max(finished), "failures": failures, "errors": self.errors[-3:]}

    async def storm_one(self, p: Participant) -> None:
        await p.open()
        await p.joined.wait()
        host = p.who.get("host_id")
        if host is None:  # the host: done when it has answered everyone (its reader answers)
            return
        if self.dialect.name == "bare relay":
            while host not in p.peers:
                p.peer_seen.clear()
                await p.peer_seen.wait()
        await p.send(p.frame("offer", self.storm_size, marker("S", time.monotonic(), 0), to=host))
        await p.storm_done.wait()


async def serve(conn: Any, spec: dict) -> None:
    """Run commands from the pipe until "stop"; each answer goes back on the pipe."""
    client = LoadClient(spec)
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, args = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            try:
                result = await getattr(client, command)(**args)
            except Exception as error:  # reported to the coordinator, which stops the run
                result = {"exception": repr(error)}
            conn.send(result)
    finally:
        for group in list(client.groups):
            await client.close_group(group)
        if client.heartbeat is not None:
            client.heartbeat.cancel()
        await client.http.close()
        conn.send({"stopped": True})


def worker_main(conn: Any, spec: dict) -> None:
    """Entry point of a load process, on uvloop (it keeps the schedule)."""
    uvloop.run(serve(conn, spec))
