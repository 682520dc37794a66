"""Chromium and the aiortc client in one call, through the real server, all inside one loopback-only namespace.

The aiortc participant runs as a process in the namespace
(telepractice/testing/aiortc_participant.py) and reports what it sees as JSON
lines; the worker is a real Chromium page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from telepractice.testing import netns
from telepractice.testing.server import PreparedSession, RunningServer
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.test_call import START_SCREEN, admit, no_page_errors, shown_safety_code, staff_path, video_playing

pytestmark = [pytest.mark.browser, pytest.mark.network]

EVENT_TIMEOUT = WAIT_MS / 1000
STOP_TIMEOUT = 10.0


class Participant:
    """The aiortc participant's process: its JSON reports, read as they come."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []

    async def next(self, event: str, **matching: Any) -> dict[str, Any]:
        """The next report of ``event`` whose fields include ``matching``; fails after EVENT_TIMEOUT."""
        assert self.process.stdout is not None
        while True:
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), EVENT_TIMEOUT)
            except TimeoutError:
                raise AssertionError(f"no {event} {matching} within {EVENT_TIMEOUT:g} s; saw {self.events}; "
                                     f"log:\n{self.log()[-2000:]}") from None
            if not line:
                raise AssertionError(f"the participant exited before {event}; saw {self.events}; "
                                     f"log:\n{self.log()[-2000:]}")
            report = json.loads(line)
            self.events.append(report)
            if report["event"] == event and all(report.get(key) == value for key, value in matching.items()):
                return report

    async def read_to_end(self) -> None:
        """Every report left, up to the process closing its stdout."""
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.events.append(json.loads(line))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.asynccontextmanager
async def aiortc_participant(
    namespace: netns.Namespace, server: RunningServer, token: str, log_path: Path, *options: str
) -> AsyncIterator[Participant]:
    """Start the participant in the namespace; at the end close its stdin (it leaves), or kill it by PID."""
    address = str(URL(server.origin).with_host("127.0.0.1"))
    argv = [sys.executable, "-m", "telepractice.testing.aiortc_participant", "--server", address,
            "--origin", server.origin, "--insecure", *options]
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *namespace.command(argv), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log_file)
    assert process.stdin is not None
    process.stdin.write(token.encode() + b"\n")
    await process.stdin.drain()
    participant = Participant(process, log_path)
    try:
        yield participant
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(participant.read_to_end(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
        await process.wait()


async def test_a_browser_worker_and_an_aiortc_family_member_see_each_other_and_agree_on_the_safety_code(
    pages: Pages, prepared: PreparedSession, server: RunningServer, namespace: netns.Namespace, tmp_path: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    async with aiortc_participant(namespace, server, ana.join_token, tmp_path / "aiortc.log", "--audio") as family:
        welcome = await family.next("welcome")
        assert welcome["id"] == ana.participant_id and welcome["role"] == "family"
        await family.next("state", state="waiting")

        await admit(worker, ana.participant_id)
        await family.next("state", state="in-call")
        await video_playing(worker, ana.participant_id)  # Chromium plays the aiortc camera
        seen = await family.next("peer", peer=prepared.worker_id)  # aiortc decodes Chromium's camera

        assert await shown_safety_code(worker, ana.participant_id) == seen["safety_code"]
        no_page_errors(pages)
        print(f"\naiortc family member: hello to first frame from Chromium {seen['first_frame_after_hello']:.3f} s")
    closed = next(report for report in family.events if report["event"] == "closed")
    assert closed["ending"] is None  # it left on its own; nobody ended the session


async def test_a_browser_sharing_its_screen_renegotiates_with_the_aiortc_peer_on_the_same_connection(
    pages: Pages, prepared: PreparedSession, server: RunningServer, namespace: netns.Namespace, tmp_path: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    async with aiortc_participant(namespace, server, ana.join_token, tmp_path / "aiortc.log") as family:
        await family.next("state", state="waiting")
        await admit(worker, ana.participant_id)
        before = await family.next("peer", peer=prepared.worker_id)

        await worker.evaluate(START_SCREEN)  # Chromium offers again: a third m-line on the same connection
        screen = await family.next("track", peer=prepared.worker_id, track="video:2")
        assert screen["frames"] >= 5 and screen["size"] is not None
        await video_playing(worker, ana.participant_id)  # the aiortc camera plays on through the renegotiation

        assert not [report for report in family.events if report["event"] == "peer"][1:], "no new connection"
        assert await shown_safety_code(worker, ana.participant_id) == before["safety_code"]
        no_page_errors(pages)
