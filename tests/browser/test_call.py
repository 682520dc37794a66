"""Calls between real Chromium pages through the real server over HTTPS/WSS, all inside one loopback-only namespace."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from telepractice.signaling.safety_code import fingerprint_from_sdp, safety_code
from telepractice.testing.server import PreparedSession
from tests.browser.conftest import WAIT_MS, Pages

pytestmark = [pytest.mark.browser, pytest.mark.network]

# Resolves once the video of `key`'s tile has played on for a while; the tile may be replaced meanwhile.
VIDEO_PLAYING = """
async ([key, waitMs]) => {
  const deadline = performance.now() + waitMs;
  let video = null, start = 0;
  while (performance.now() < deadline) {
    const found = document.querySelector(`.tile[data-key="${CSS.escape(key)}"] video`);
    if (found !== video) { video = found; start = found ? found.currentTime : 0; }
    if (video && video.videoWidth > 0 && !video.paused && video.currentTime > start + 0.3) {
      return {at: performance.now(), currentTime: video.currentTime, width: video.videoWidth};
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the video of ${key} did not play within ${waitMs} ms`);
}
"""


def staff_path(prepared: PreparedSession) -> str:
    return f"/call#staff={prepared.worker_token}&session={prepared.session_id}"


def family_path(prepared: PreparedSession, index: int) -> str:
    # Straight into the call page: these tests are about the call; tests/browser/test_family_path.py walks /join.
    return f"/call#invite={prepared.family[index].join_token}"


async def video_playing(page: Page, key: str) -> dict[str, Any]:
    """Waits (bounded) until the remote video of ``key`` advances; returns when, by the page's clock."""
    return await page.evaluate(VIDEO_PLAYING, [key, WAIT_MS])


async def admit(worker: Page, participant_id: str) -> float:
    """Clicks Admit for someone in the worker's waiting list; the monotonic time of the click."""
    button = worker.locator(f'#waiting-list [data-participant="{participant_id}"] button.admit')
    await button.wait_for(state="visible")
    clicked = time.monotonic()
    await button.click()
    return clicked


async def peers(page: Page) -> dict[str, Any]:
    return await page.evaluate("() => window.telepractice.call.summary()")


async def wait_peers(page: Page, expected: set[str]) -> None:
    """Until the page's call has exactly these peer connections."""
    await page.wait_for_function(
        "(ids) => { const now = Object.keys(window.telepractice.call.summary()).sort();"
        " return JSON.stringify(now) === JSON.stringify(ids); }",
        arg=sorted(expected), timeout=WAIT_MS)


async def shown_safety_code(page: Page, peer: str) -> str:
    shown = page.locator(f'.tile[data-key="{peer}"] .safety-code')
    await page.wait_for_function(
        "(peer) => document.querySelector(`.tile[data-key=\"${CSS.escape(peer)}\"] .safety-code`)?.textContent",
        arg=peer, timeout=WAIT_MS)
    return (await shown.text_content() or "").strip()


async def screenshot(page: Page, output_dir: Path, name: str) -> None:
    await page.screenshot(path=str(output_dir / f"{name}.png"))


def record_figures(output_dir: Path, test: str, figures: dict[str, float]) -> None:
    """Measured times go to test-output/call-figures.json (reported, never asserted)."""
    path = output_dir / "call-figures.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[test] = {name: round(value, 3) for name, value in figures.items()}
    path.write_text(json.dumps(known, indent=2, sort_keys=True))


def no_page_errors(pages: Pages) -> None:
    assert {label: errors for label, errors in pages.errors.items() if errors} == {}


async def test_worker_admits_a_family_member_and_both_see_each_other(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    opened = time.monotonic()
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("family", family_path(prepared, 0))
    assert "#" not in worker.url and "#" not in family.url, "the token must leave the address bar"
    await family.locator("#status").filter(has_text="let you in").wait_for()

    clicked = await admit(worker, ana.participant_id)
    on_worker = await video_playing(worker, ana.participant_id)
    playing_worker = time.monotonic()
    on_family = await video_playing(family, prepared.worker_id)
    playing_family = time.monotonic()

    worker_code = await shown_safety_code(worker, ana.participant_id)
    family_code = await shown_safety_code(family, prepared.worker_id)
    assert re.fullmatch(r"\d{3} \d{3}", worker_code)
    assert worker_code == family_code

    descriptions = await worker.evaluate(
        "(peer) => { const pc = window.telepractice.call.peers.get(peer).pc;"
        " return [pc.localDescription.sdp, pc.currentRemoteDescription.sdp]; }", ana.participant_id)
    local_sdp, remote_sdp = descriptions
    assert safety_code(fingerprint_from_sdp(local_sdp), fingerprint_from_sdp(remote_sdp)) == worker_code

    caps = await worker.evaluate(
        "(peer) => window.telepractice.call.peers.get(peer).pc.getSenders()"
        ".filter((s) => s.track && s.track.kind === 'video').map((s) => s.getParameters().encodings[0].maxBitrate)",
        ana.participant_id)
    assert caps == [1_500_000]

    await screenshot(worker, output_dir, "two-party-worker")
    await screenshot(family, output_dir, "two-party-family")
    no_page_errors(pages)
    record_figures(output_dir, "two_party", {
        "pages_opened_to_admit_click_s": clicked - opened,
        "admit_click_to_video_on_worker_s": playing_worker - clicked,
        "admit_click_to_video_on_family_s": playing_family - clicked,
        "worker_page_load_to_video_s": on_worker["at"] / 1000,
        "family_page_load_to_video_s": on_family["at"] / 1000,
    })


async def join_three(pages: Pages, prepared: PreparedSession) -> tuple[Page, Page, Page]:
    """The worker's page and two family members' pages, both admitted; every remote video playing."""
    ana, rui = prepared.family[:2]
    worker = await pages.open("worker", staff_path(prepared))
    first = await pages.open("ana", family_path(prepared, 0))
    second = await pages.open("rui", family_path(prepared, 1))
    await admit(worker, ana.participant_id)
    await admit(worker, rui.participant_id)
    await all_playing({worker: [ana.participant_id, rui.participant_id],
                       first: [prepared.worker_id, rui.participant_id],
                       second: [prepared.worker_id, ana.participant_id]})
    return worker, first, second


async def all_playing(expected: dict[Page, list[str]]) -> None:
    for page, keys in expected.items():
        for key in keys:
            await video_playing(page, key)


async def video_caps(page: Page) -> list[int]:
    return await page.evaluate(
        "() => [...window.telepractice.call.peers.values()].flatMap((link) => link.pc.getSenders())"
        ".filter((s) => s.track && s.track.kind === 'video').map((s) => s.getParameters().encodings[0].maxBitrate)")


async def test_three_people_in_a_mesh_all_see_each_other_at_the_lower_bitrate(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    started = time.monotonic()
    worker, first, second = await join_three(pages, prepared)
    everyone_playing = time.monotonic()
    for page in (worker, first, second):
        await page.wait_for_function(
            "() => [...window.telepractice.call.peers.values()].flatMap((l) => l.pc.getSenders())"
            ".filter((s) => s.track && s.track.kind === 'video')"
            ".every((s) => s.getParameters().encodings[0]?.maxBitrate === 1200000)", timeout=WAIT_MS)
        assert await video_caps(page) == [1_200_000, 1_200_000]
    for name, page in (("worker", worker), ("ana", first), ("rui", second)):
        await screenshot(page, output_dir, f"three-party-{name}")
    no_page_errors(pages)
    record_figures(output_dir, "three_party", {"pages_opened_to_all_six_videos_playing_s": everyone_playing - started})


async def test_a_side_room_hangs_up_on_the_person_taken_aside_and_bringing_them_back_resumes_video(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana, rui = prepared.family[:2]
    worker, first, second = await join_three(pages, prepared)

    await worker.evaluate(
        "(ids) => window.telepractice.client.send({v: 1, type: 'side-room-create', participants: ids})",
        [rui.participant_id])
    await wait_peers(worker, {ana.participant_id})
    await wait_peers(first, {prepared.worker_id})
    await wait_peers(second, set())
    assert await second.locator(".tile:not(.local)").count() == 0
    await video_playing(worker, ana.participant_id)
    await screenshot(second, output_dir, "side-room-rui-alone")

    returned = time.monotonic()
    await worker.evaluate(
        "(ids) => window.telepractice.client.send({v: 1, type: 'side-room-return', participants: ids})",
        [rui.participant_id])
    await all_playing({worker: [rui.participant_id], first: [rui.participant_id],
                       second: [prepared.worker_id, ana.participant_id]})
    resumed = time.monotonic()
    await screenshot(second, output_dir, "side-room-rui-back")
    no_page_errors(pages)
    record_figures(output_dir, "side_room", {"return_to_video_playing_everywhere_s": resumed - returned})


RECORD_MESSAGES = """
() => { const t = window.telepractice; t.seen = []; t.before = Date.now();
        t.client.on('message', (m) => t.seen.push(m.type)); }
"""

NEW_CONNECTION_UP = """
(peer) => { const t = window.telepractice, link = t.call.peers.get(peer);
            return Boolean(link) && link.createdAt >= t.before && link.pc.connectionState === 'connected'; }
"""


@pytest.mark.parametrize("who", ["family", "worker"])
async def test_a_dropped_socket_comes_back_into_the_call_without_waiting_and_video_plays_on(
    pages: Pages, prepared: PreparedSession, output_dir: Path, who: str
) -> None:
    ana = prepared.family[0]
    worker, family = await two_in_a_call(pages, prepared)
    dropper, other = (family, worker) if who == "family" else (worker, family)
    for page in (worker, family):
        await page.evaluate(RECORD_MESSAGES)

    dropped = time.monotonic()
    await dropper.evaluate("() => window.telepractice.client.socket.close()")
    await dropper.wait_for_function(
        "() => window.telepractice.client.connections === 2 && window.telepractice.client.state === 'joined'",
        timeout=WAIT_MS)
    rejoined = time.monotonic()
    # Both ends start a new peer connection (docs/protocol.md): wait for it, then for its video.
    await worker.wait_for_function(NEW_CONNECTION_UP, arg=ana.participant_id, timeout=WAIT_MS)
    await family.wait_for_function(NEW_CONNECTION_UP, arg=prepared.worker_id, timeout=WAIT_MS)
    await video_playing(family, prepared.worker_id)
    await video_playing(worker, ana.participant_id)
    playing = time.monotonic()

    dropper_seen = await dropper.evaluate("() => window.telepractice.seen")
    other_seen = await other.evaluate("() => window.telepractice.seen")
    assert "welcome" in dropper_seen and "admitted" in dropper_seen
    assert "waiting" not in dropper_seen + other_seen, "back in the call without the waiting room"
    assert "participant-waiting" not in dropper_seen + other_seen, "the worker did not have to admit again"
    assert await dropper.evaluate("() => Boolean(window.telepractice.client.resumeToken)")
    await screenshot(family, output_dir, f"reconnected-{who}-family")
    await screenshot(worker, output_dir, f"reconnected-{who}-worker")
    no_page_errors(pages)
    record_figures(output_dir, f"reconnect_{who}", {
        "socket_closed_to_rejoined_s": rejoined - dropped,
        "socket_closed_to_new_video_playing_both_s": playing - dropped,
    })


async def two_in_a_call(pages: Pages, prepared: PreparedSession) -> tuple[Page, Page]:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("family", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    return worker, family


# A second fake camera stands in for a shared screen: headless Chromium has no screen to pick.
START_SCREEN = """
async () => {
  const screen = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}});
  const t = window.telepractice;
  t.glare = 0;
  t.call.on('glare', () => { t.glare += 1; });
  t.call.startScreen(screen);
}
"""

FRAMES_IN = """
async ([key, ms]) => {
  const video = document.querySelector(`.tile[data-key="${CSS.escape(key)}"] video`);
  let frames = 0;
  const count = () => { frames += 1; video.requestVideoFrameCallback(count); };
  video.requestVideoFrameCallback(count);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return frames;
}
"""


async def test_screen_shares_started_at_once_at_both_ends_renegotiate_without_wedging_the_call(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    worker, family = await two_in_a_call(pages, prepared)

    started = time.monotonic()
    await asyncio.gather(worker.evaluate(START_SCREEN), family.evaluate(START_SCREEN))
    await video_playing(worker, f"{ana.participant_id}:screen")
    await video_playing(family, f"{prepared.worker_id}:screen")
    sharing = time.monotonic()
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    await screenshot(worker, output_dir, "screen-share-worker")
    glare = [await page.evaluate("() => window.telepractice.glare") for page in (worker, family)]

    await asyncio.gather(*(page.evaluate("() => window.telepractice.call.stopScreen()") for page in (worker, family)))
    await worker.locator(f'.tile[data-key="{ana.participant_id}:screen"]').wait_for(state="detached")
    await family.locator(f'.tile[data-key="{prepared.worker_id}:screen"]').wait_for(state="detached")
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    for page in (worker, family):
        assert {peer["state"] for peer in (await peers(page)).values()} == {"connected"}
    no_page_errors(pages)
    record_figures(output_dir, "screen_share", {
        "both_start_to_both_screens_playing_s": sharing - started,
        "offer_collisions_seen": float(sum(glare)),
    })


async def test_turning_the_camera_off_stops_its_frames_and_on_again_resumes_them(
    pages: Pages, prepared: PreparedSession
) -> None:
    ana = prepared.family[0]
    worker, family = await two_in_a_call(pages, prepared)
    camera = family.locator("#camera")

    await camera.click()
    await family.wait_for_function("() => document.querySelector('#camera').getAttribute('aria-pressed') === 'true'")
    assert await family.evaluate("() => window.telepractice.call.peers.values().next().value.cameraSender.track") is None
    assert await family.evaluate("() => window.telepractice.call.localStream.getVideoTracks().length") == 0
    await worker.wait_for_function(
        "(id) => window.telepractice.people.get(id)?.video === false", arg=ana.participant_id, timeout=WAIT_MS)
    await asyncio.sleep(0.5)  # frames already in flight
    assert await worker.evaluate(FRAMES_IN, [ana.participant_id, 700]) == 0

    await camera.click()
    await worker.wait_for_function(
        "(id) => window.telepractice.people.get(id)?.video === true", arg=ana.participant_id, timeout=WAIT_MS)
    assert await worker.evaluate(FRAMES_IN, [ana.participant_id, 700]) > 3
    await video_playing(worker, ana.participant_id)
    no_page_errors(pages)


async def test_reloading_the_page_comes_back_into_the_call_without_the_link_or_the_waiting_room(
    pages: Pages, prepared: PreparedSession
) -> None:
    ana = prepared.family[0]
    worker, family = await two_in_a_call(pages, prepared)
    await worker.evaluate(
        "() => { const t = window.telepractice; t.seen = []; t.client.on('message', (m) => t.seen.push(m.type)); }")

    await family.reload()
    assert "#" not in family.url
    await family.wait_for_function("() => window.telepractice?.client.state === 'joined'", timeout=WAIT_MS)
    await video_playing(family, prepared.worker_id)
    await video_playing(worker, ana.participant_id)
    assert "participant-waiting" not in await worker.evaluate("() => window.telepractice.seen")

    await family.locator("#leave").click()
    await family.reload()
    await family.locator("#status").filter(has_text="personal link").wait_for()
    no_page_errors(pages)


async def test_the_worker_talks_alone_with_one_person_by_clicking_and_brings_everyone_back(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana, rui = prepared.family[:2]
    worker, first, second = await join_three(pages, prepared)

    await worker.locator(f'.tile[data-key="{rui.participant_id}"] button.aside').click()
    await wait_peers(worker, {rui.participant_id})
    await wait_peers(second, {prepared.worker_id})
    await wait_peers(first, set())
    await second.locator("#status").filter(has_text="smaller group").wait_for()
    await video_playing(worker, rui.participant_id)
    await video_playing(second, prepared.worker_id)
    assert await first.locator("button.aside").count() == 0, "only the host takes people aside"
    await screenshot(worker, output_dir, "talk-alone-worker")

    await worker.locator("#together").click()
    await all_playing({worker: [ana.participant_id, rui.participant_id],
                       first: [prepared.worker_id, rui.participant_id],
                       second: [prepared.worker_id, ana.participant_id]})
    await worker.locator("#together").wait_for(state="hidden")
    no_page_errors(pages)


async def test_someone_without_consent_cannot_be_admitted_and_is_turned_away_for_good(
    pages: Pages, prepared: PreparedSession
) -> None:
    bia = prepared.family[2]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("family", family_path(prepared, 2))
    waiting = worker.locator(f'#waiting-list [data-participant="{bia.participant_id}"]')
    await waiting.locator(".note").filter(has_text="consent").wait_for()
    assert await waiting.locator("button.admit").is_disabled()

    await waiting.locator("button.turn-away").click()
    await family.locator("#status").filter(has_text="could not let you in").wait_for()
    await waiting.wait_for(state="detached")
    assert await family.locator("#controls").is_hidden()
    # The words come with the message; the server's close frame follows it, so the state is waited for.
    await family.wait_for_function("() => window.telepractice.client.state === 'closed'", timeout=WAIT_MS)
    await family.reload()
    await family.locator("#status").filter(has_text="personal link").wait_for()
    no_page_errors(pages)
