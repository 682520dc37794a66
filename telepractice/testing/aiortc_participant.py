"""One aiortc participant as a process, for tests that need it elsewhere (inside a network namespace).

    echo "$TOKEN" | python -m telepractice.testing.aiortc_participant --server https://127.0.0.1:8443 \\
        --origin https://localhost:8443 --insecure

The token comes on the first line of stdin, never in argv (where any user
could read it). The participant joins with telepractice.client, host
candidates limited to 127.0.0.1, and reports on stdout, one JSON object a
line: ``welcome`` (its id and role), ``state`` on each change, ``peer`` once
``--frames`` video frames have come from a peer (with the safety code and the
seconds from hello to the first frame), and ``closed``. It leaves the session
and exits when stdin closes or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from telepractice.client import ClientState, SessionClient
from telepractice.client_peer import MediaOptions
from telepractice.signaling.safety_code import fingerprint_from_sdp
from telepractice.testing.loopback import loopback_only


def report(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--server", required=True, help="the server's origin, e.g. https://127.0.0.1:8443")
    parser.add_argument("--origin", help="the Origin header (default: the server's)")
    parser.add_argument("--session", help="the session id (staff tokens need it)")
    parser.add_argument("--insecure", action="store_true", help="accept the development certificate")
    parser.add_argument("--audio", action="store_true", help="send a (silent) microphone too")
    parser.add_argument("--no-video", action="store_true", help="send no camera")
    parser.add_argument("--frames", type=int, default=5, help="video frames from a peer before reporting it")
    return parser.parse_args(argv)


async def stdin_closed() -> None:
    """Returns at end of input: the test closed our stdin (a pipe, read without blocking the loop)."""
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def watch(client: SessionClient, frames: int) -> None:
    """Report state changes; each peer once its camera has sent ``frames`` frames and it has a safety code;
    each remote track (``video``, ``audio``, ``video:2`` for a shared screen...) once it has sent as many."""
    state: ClientState | None = None
    reported: set[tuple[int, str]] = set()  # (the link's id, a track key or "" for the peer itself)
    while True:
        if client.state is not state:
            state = client.state
            report("state", state=str(state))
        for peer_id, link in list(client.peers.items()):
            if (id(link), "") not in reported and link.frames() >= frames and link.safety_code is not None:
                reported.add((id(link), ""))
                report("peer", peer=peer_id, frames=link.frames(), safety_code=link.safety_code,
                       first_frame_after_hello=client.first_frame_after_hello(peer_id),
                       local_fingerprint=fingerprint_from_sdp(link.pc.localDescription.sdp),
                       remote_fingerprint=fingerprint_from_sdp(link.pc.remoteDescription.sdp))
            for track, received in list(link.received.items()):
                if (id(link), track) not in reported and received.frames >= frames:
                    reported.add((id(link), track))
                    report("track", peer=peer_id, track=track, frames=received.frames, size=received.size)
        if state is ClientState.CLOSED:
            return
        await asyncio.sleep(0.05)


async def run(options: argparse.Namespace, token: str) -> int:
    media = MediaOptions(video=not options.no_video, audio=options.audio)
    client = SessionClient(options.server, token, session_id=options.session, origin=options.origin,
                           ssl=False if options.insecure else None, media=media)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with loopback_only():
        await client.connect()
        report("welcome", id=client.participant_id, role=client.role)
        watcher = asyncio.create_task(watch(client, options.frames))
        closed = asyncio.create_task(stdin_closed())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([watcher, closed, stopped], return_when=asyncio.FIRST_COMPLETED)
        for task in (watcher, closed, stopped):
            task.cancel()
        await client.close()
    report("closed", close_code=client.close_code, ending=client.ending)
    return 0


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    token = sys.stdin.readline().strip()
    if not token:
        print("no token on stdin", file=sys.stderr)
        return 2
    return asyncio.run(run(options, token))


if __name__ == "__main__":
    sys.exit(main())
