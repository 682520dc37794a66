"""Degraded networks, for real: the server and Chromium in namespaces of the test's own, each link shaped.

The server runs in one namespace behind a bridge (10.99.0.1); each browser runs
in its own namespace, linked to the bridge through a userspace link emulator
(telepractice/testing/shaped_link.py) that adds loss, a bandwidth cap or a
cut on both directions. Nothing leaves those namespaces. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from telepractice.testing import netns, shaped_link
from telepractice.testing.server import (
    PreparedSession,
    RunningServer,
    prepare_family_session,
    server_environment,
    settings_for,
    start_server,
)
from telepractice.testing.shaped_link import ShapedNetwork

pytestmark = pytest.mark.network

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
WAIT_MS = 30_000
ORIGIN = f"https://{shaped_link.SERVER_ADDRESS}:8443"

# Runs the page's connection test (web/js/connection-test.js) with a 320x240 camera; returns its result.
CONNECTION_TEST = """
async ([token, seconds]) => {
  const { runConnectionTest } = await import('/static/js/connection-test.js');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  try {
    return await runConnectionTest({ origin: location.origin, token, seconds, videoTrack: stream.getVideoTracks()[0] });
  } finally {
    for (const track of stream.getTracks()) track.stop();
  }
}
"""


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"degraded-network tests must run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def platform() -> None:
    reason = netns.unavailable_reason() or shaped_link.unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)


@pytest.fixture
def network(platform: None) -> Iterator[ShapedNetwork]:
    with shaped_link.shaped_network(2) as made:
        yield made


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path / "data", host="0.0.0.0", public_origin=ORIGIN)


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    return await prepare_family_session(settings_for(server_env), ("Ana Test",))


@pytest.fixture
def server(network: ShapedNetwork, server_env: dict[str, str], prepared: PreparedSession,
           tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(network.server, server_env, tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


async def launch(playwright: Any, ns: netns.Namespace, directory: Path) -> Browser:
    wrapper = ns.chromium_wrapper(directory)
    return await playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS, timeout=WAIT_MS)


@pytest.fixture
async def browsers(network: ShapedNetwork, server: RunningServer, tmp_path: Path) -> AsyncIterator[list[Browser]]:
    """One Chromium per client namespace: [worker's, family's]."""
    async with async_playwright() as playwright:
        launched: list[Browser] = []
        try:
            for index, client in enumerate(network.clients):
                launched.append(await launch(playwright, client.ns, tmp_path / f"bin{index}"))
            yield launched
        finally:
            for browser in launched:
                await browser.close()


async def open_page(browser: Browser, path: str) -> Page:
    context = await browser.new_context(ignore_https_errors=True, viewport={"width": 960, "height": 720})
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(ORIGIN + path)
    return page


async def connection_test(page: Page, token: str, seconds: float = 5.0) -> dict[str, Any]:
    return await asyncio.wait_for(page.evaluate(CONNECTION_TEST, [token, seconds]), timeout=60)


async def test_connection_test_verdicts_match_the_shaped_link(
    network: ShapedNetwork, browsers: list[Browser], prepared: PreparedSession, server: RunningServer
) -> None:
    family = network.clients[1]
    page = await open_page(browsers[1], "/")
    token = prepared.family[0].join_token
    seen: dict[str, dict[str, Any]] = {}
    for name, shape, expected in (
        ("clean", shaped_link.CLEAR, "good"),
        ("20% loss each way", shaped_link.Shape(loss_percent=20), "audio-only"),
        ("capped at 128 kbit/s", shaped_link.Shape(rate_kbit=128, limit_packets=40), "audio-only"),
        ("cut", shaped_link.CUT, "no-connection"),
    ):
        network.apply(family, shape)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        result = await connection_test(page, token)
        seen[name] = {**result["stats"], "verdict": result["verdict"], "seconds": round(time.monotonic() - started, 1)}
        network.clear(family)
        await asyncio.sleep(0.5)
    print("\nconnection test per shaped link:")
    for name, figures in seen.items():
        print(f"  {name}: {figures}")
    assert {name: figures["verdict"] for name, figures in seen.items()} == {
        "clean": "good", "20% loss each way": "audio-only", "capped at 128 kbit/s": "audio-only",
        "cut": "no-connection",
    }, server.log()[-3000:]


# --- calls on a shaped link ------------------------------------------------------

# Resolves once the video of `key`'s tile has advanced by 0.3 s of playback; bounded by waitMs.
VIDEO_ADVANCES = """
async ([key, waitMs]) => {
  const deadline = performance.now() + waitMs;
  let video = null, start = 0;
  while (performance.now() < deadline) {
    const found = document.querySelector(`.tile[data-key="${CSS.escape(key)}"] video`);
    if (found !== video) { video = found; start = found ? found.currentTime : 0; }
    if (video && video.videoWidth > 0 && !video.paused && video.currentTime > start + 0.3) return video.currentTime;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the video of ${key} did not play within ${waitMs} ms`);
}
"""


async def video_advances(page: Page, key: str, wait_ms: int = WAIT_MS) -> float:
    return await page.evaluate(VIDEO_ADVANCES, [key, wait_ms])


FRAMES_DECODED = """
async (peer) => {
  const link = window.telepractice.call.peers.get(peer);
  if (!link) return 0;
  let frames = 0;
  (await link.pc.getStats()).forEach((entry) => {
    if (entry.type === 'inbound-rtp' && entry.kind === 'video') frames += entry.framesDecoded ?? 0;
  });
  return frames;
}
"""


async def frames_decoded(page: Page, peer: str) -> int:
    return int(await page.evaluate(FRAMES_DECODED, peer))


async def until_frames_grow(page: Page, peer: str, by: int, timeout: float = 40.0) -> float:
    """Seconds until the page has decoded ``by`` more video frames from ``peer`` (bounded)."""
    started = time.monotonic()
    first = await frames_decoded(page, peer)
    while time.monotonic() - started < timeout:
        if await frames_decoded(page, peer) >= first + by:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {by} new frames from {peer} within {timeout:g} s")


async def in_call(browsers: list[Browser], prepared: PreparedSession) -> tuple[Page, Page]:
    """The worker (client 0) and a family member (client 1) in the call, video playing both ways."""
    worker = await open_page(browsers[0], f"/call#staff={prepared.worker_token}&session={prepared.session_id}")
    family = await open_page(browsers[1], f"/call#invite={prepared.family[0].join_token}")
    button = worker.locator(f'#waiting-list [data-participant="{prepared.family[0].participant_id}"] button.admit')
    await button.click()
    await video_advances(worker, prepared.family[0].participant_id)
    await video_advances(family, prepared.worker_id)
    return worker, family


async def wait_until(page: Page, expression: str, arg: Any = None, timeout_ms: int = WAIT_MS) -> float:
    """Waits (bounded) for a page expression to be truthy; returns the seconds it took."""
    started = time.monotonic()
    await page.wait_for_function(expression, arg=arg, timeout=timeout_ms)
    return time.monotonic() - started


async def attendance(server_env: dict[str, str], session_id: str, who: str) -> tuple[list[str], list[Any]]:
    """The family member's attendance events (in order) and presence rows, read from the server's database."""
    from sqlalchemy import select

    from telepractice.storage.engine import make_engine, make_session_factory
    from telepractice.storage.models import AttendanceEventRow, PresenceInterval

    engine = make_engine(settings_for(server_env).database_url)
    try:
        async with make_session_factory(engine)() as session:
            events = (await session.execute(
                select(AttendanceEventRow).where(AttendanceEventRow.session_id == session_id,
                                                 AttendanceEventRow.participant_id == who)
                .order_by(AttendanceEventRow.at))).scalars().all()
            presences = (await session.execute(
                select(PresenceInterval).where(PresenceInterval.session_id == session_id,
                                               PresenceInterval.participant_id == who))).scalars().all()
        return [event.event for event in events], list(presences)
    finally:
        await engine.dispose()


async def test_a_call_survives_a_five_second_cut_and_attendance_shows_no_departure(
    network: ShapedNetwork, browsers: list[Browser], prepared: PreparedSession, server: RunningServer,
    server_env: dict[str, str],
) -> None:
    worker, family = await in_call(browsers, prepared)
    family_id = prepared.family[0].participant_id
    network.cut(network.clients[1])
    await asyncio.sleep(1.0)
    during = await frames_decoded(worker, family_id)
    await asyncio.sleep(4.0)
    stalled = await frames_decoded(worker, family_id) - during
    network.clear(network.clients[1])
    worker_sees = await until_frames_grow(worker, family_id, 10)
    family_sees = await until_frames_grow(family, prepared.worker_id, 10)
    await video_advances(worker, family_id, 40_000)
    sockets = await family.evaluate("() => window.telepractice.client.connections")
    events, presences = await attendance(server_env, prepared.session_id, family_id)
    print(f"\n5 s cut: {stalled} frames decoded in its last 4 s; 10 new frames at the worker {worker_sees:.1f} s "
          f"and at the family {family_sees:.1f} s after the link came back; family sockets opened {sockets}; "
          f"attendance events {events}")
    assert stalled <= 5, "the cut did not stop the video: the link was not cut"
    assert "left" not in events and "removed" not in events
    assert len(presences) == 1 and presences[0].ended_at is None and presences[0].end_reason is None
    if sockets == 1:
        assert events == ["admitted"], "the socket survived, so the presence must be unbroken"
    else:
        assert "dropped" in events and events[-1] == "reconnected", "a dropped socket must come back as a drop"


async def test_sustained_loss_pauses_video_and_it_comes_back_when_the_loss_clears(
    network: ShapedNetwork, browsers: list[Browser], prepared: PreparedSession, server: RunningServer,
) -> None:
    worker, family = await in_call(browsers, prepared)
    family_id = prepared.family[0].participant_id
    network.shape(network.clients[1], loss_percent=25)
    to_audio = await wait_until(family, "() => window.telepractice.quality.audioOnly", timeout_ms=40_000)
    told = await wait_until(worker, "(id) => window.telepractice.people.get(id)?.video === false", family_id)
    status = await family.locator("#status").text_content()
    network.clear(network.clients[1])
    back = await wait_until(family, "() => !window.telepractice.quality.audioOnly", timeout_ms=40_000)
    await wait_until(worker, "(id) => window.telepractice.people.get(id)?.video === true", family_id)
    await video_advances(worker, family_id, 40_000)
    print(f"\n25% loss: audio only after {to_audio:.1f} s (the worker told {told:.1f} s later); "
          f"video back {back:.1f} s after the loss cleared")
    assert status and "weak" in status


async def test_the_waiting_room_test_on_a_narrow_link_starts_the_call_with_audio_only_and_keeps_the_result(
    network: ShapedNetwork, browsers: list[Browser], prepared: PreparedSession, server: RunningServer,
    server_env: dict[str, str],
) -> None:
    from telepractice.sessions.connection_tests import connection_tests_of
    from telepractice.storage.engine import make_engine, make_session_factory

    family_id = prepared.family[0].participant_id
    network.apply(network.clients[1], shaped_link.Shape(rate_kbit=128, limit_packets=40))
    worker = await open_page(browsers[0], f"/call#staff={prepared.worker_token}&session={prepared.session_id}")
    family = await open_page(browsers[1], f"/call#invite={prepared.family[0].join_token}")
    tested = await wait_until(family, "() => window.telepractice?.connectionTest", timeout_ms=40_000)
    result = await family.evaluate("() => window.telepractice.connectionTest")
    note = await family.locator("#connection-test").text_content()
    print(f"\nwaiting-room test on 128 kbit/s: {result['verdict']} after {tested:.1f} s, {result['stats']}")
    assert result["verdict"] == "audio-only" and note and "audio only" in note
    await worker.locator(f'#waiting-list [data-participant="{family_id}"] button.admit').click()
    await wait_until(worker, "(id) => window.telepractice.people.get(id)?.video === false", family_id)
    assert await family.evaluate("() => window.telepractice.quality.audioOnly")
    engine = make_engine(settings_for(server_env).database_url)
    try:
        rows = await connection_tests_of(make_session_factory(engine), prepared.session_id)
    finally:
        await engine.dispose()
    assert [(row.participant_id, row.verdict) for row in rows] == [(family_id, "audio-only")]
    network.clear(network.clients[1])
    back = await wait_until(worker, "(id) => window.telepractice.people.get(id)?.video === true", family_id, 40_000)
    await video_advances(worker, family_id, 40_000)
    print(f"video came back {back:.1f} s after the link was cleared")
