"""The call page for everyone in it (issue 5), in real Chromium against the real server: chat, side rooms,
the waiting room's signal to the worker, audio only, the safety code on request, calm connection messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from telepractice.crypto.case_keys import open_case
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.consent import ConsentGiven, record_consent
from telepractice.storage.engine import make_engine, make_session_factory
from telepractice.storage.models import ConsentKind, ConsentMethod, FamilyParticipant
from telepractice.testing.server import PreparedSession, prepare_family_session, settings_for
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.test_call import FRAMES_IN, admit, family_path, no_page_errors, staff_path, video_playing

pytestmark = [pytest.mark.browser, pytest.mark.network]

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


async def give_assent(server_env: dict[str, str], participant_id: str) -> None:
    """The child's own assent, as the family's consent step records it, so the worker may admit them."""
    settings = settings_for(server_env)
    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            child = await session.get(FamilyParticipant, participant_id)
            assert child is not None
            cipher = await open_case(session, Keyring(settings.key_directory), child.case_id)
            await record_consent(session, cipher, child, ConsentGiven(
                kind=ConsentKind.ASSENT, method=ConsentMethod.BROWSER, text_version="test-1", text_hash="0" * 64,
                language="en", given_by_participant_id=child.id))
    finally:
        await engine.dispose()


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    """A worker, a mother (Ana) and her child (Tiago), both able to be admitted."""
    made = await prepare_family_session(settings_for(server_env), ("Ana Test",), minors=("Tiago Test",))
    await give_assent(server_env, made.family[1].participant_id)
    return made


async def in_call(page: Page) -> None:
    await page.wait_for_function("() => window.telepractice?.client?.state === 'joined'", timeout=WAIT_MS)
    await page.locator("#chat-toggle").wait_for(state="visible")


async def join_three(pages: Pages, prepared: PreparedSession) -> tuple[Page, Page, Page]:
    ana, tiago = prepared.family
    worker = await pages.open("worker", staff_path(prepared))
    mother = await pages.open("ana", family_path(prepared, 0))
    child = await pages.open("tiago", family_path(prepared, 1))
    await admit(worker, ana.participant_id)
    await admit(worker, tiago.participant_id)
    for page in (worker, mother, child):
        await in_call(page)
    return worker, mother, child


async def open_chat(page: Page) -> None:
    if await page.locator("#chat").is_hidden():
        await page.locator("#chat-toggle").click()
    await page.locator("#chat-input").wait_for(state="visible")


async def say(page: Page, text: str) -> None:
    await open_chat(page)
    await page.locator("#chat-input").fill(text)
    await page.locator("#chat-input").press("Enter")


async def shows_line(page: Page, text: str) -> None:
    await page.locator("#chat-log li .text", has_text=text).wait_for(state="attached")


async def chat_lines(page: Page) -> list[str]:
    return [text.strip() for text in await page.locator("#chat-log li .text").all_text_contents()]


async def flushed(page: Page) -> None:
    """A ping round trip: whatever the server sent this page before has arrived."""
    await page.evaluate("""() => new Promise((resolve) => {
      const t = window.telepractice, off = t.client.on('pong', () => { off(); resolve(); });
      t.client.send({v: 1, type: 'ping', nonce: 4242});
    })""")


async def people_state(page: Page, participant_id: str) -> str:
    item = page.locator(f'#people-list li[data-participant="{participant_id}"]')
    if await page.locator("#people").is_hidden():
        await page.locator("#people-toggle").click()
    await item.wait_for()
    return (await item.text_content() or "").strip()


async def wait_people_state(page: Page, participant_id: str, *, has: str | None = None, lacks: str | None = None) -> str:
    await people_state(page, participant_id)
    await page.wait_for_function(
        """([id, has, lacks]) => {
          const text = document.querySelector(`#people-list li[data-participant="${CSS.escape(id)}"]`)?.textContent ?? '';
          return (!has || text.includes(has)) && (!lacks || (text.length > 0 && !text.includes(lacks)));
        }""", arg=[participant_id, has, lacks], timeout=WAIT_MS)
    return await people_state(page, participant_id)


async def shoot(page: Page, output_dir: Path, name: str) -> None:
    """The page at a phone's size and a desktop's, under test-output/screenshots/."""
    folder = output_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    for size, viewport in SIZES.items():
        await page.set_viewport_size(viewport)
        await page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
    await page.set_viewport_size({"width": 960, "height": 720})


async def test_a_child_taken_aside_chats_with_the_worker_unseen_by_the_mother_and_the_worker_saves_the_chat(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana, tiago = prepared.family
    worker, mother, child = await join_three(pages, prepared)
    assert re.fullmatch(r"Session time: \d+:\d{2} of 60:00", (await worker.locator("#timer").inner_text()).strip())
    assert await mother.locator("#timer").is_hidden()

    await say(mother, "Good morning, everyone")
    for page in (worker, mother, child):
        await shows_line(page, "Good morning, everyone")
    assert await worker.locator("#chat-log li.theirs .who").first.inner_text() == "Ana Test"

    # Taken aside: everyone's list of people says so, on all three pages.
    await worker.locator(f'.tile[data-key="{tiago.participant_id}"] button.aside').click()
    await child.locator("#status").filter(has_text="smaller group").wait_for()
    assert "talking apart" in await wait_people_state(worker, ana.participant_id, has="talking apart")
    assert "talking apart" in await wait_people_state(mother, tiago.participant_id, has="talking apart")
    assert "talking apart" in await wait_people_state(mother, prepared.worker_id, has="talking apart")
    assert "talking apart" in await wait_people_state(child, ana.participant_id, has="talking apart")
    assert "Tiago Test (child)" in await people_state(worker, tiago.participant_id)

    await say(child, "Can I tell you something?")
    await shows_line(worker, "Can I tell you something?")
    await say(worker, "Yes, only I can read this.")
    await shows_line(child, "Yes, only I can read this.")
    await say(mother, "Is anyone there?")
    await shows_line(mother, "Is anyone there?")
    for page in (worker, mother, child):
        await flushed(page)
    assert await mother.evaluate("() => window.telepractice.chat.transcript.lines.map((l) => l.text)") == [
        "Good morning, everyone", "Is anyone there?"]
    assert "Is anyone there?" not in await chat_lines(worker) + await chat_lines(child)
    await shoot(child, output_dir, "call-page-child-aside-chat")
    await shoot(worker, output_dir, "call-page-worker-aside-chat")

    # Back together: the lists show it on every page, and lines reach everyone again.
    await worker.locator("#together").click()
    await wait_people_state(worker, ana.participant_id, lacks="talking apart")
    await wait_people_state(mother, tiago.participant_id, lacks="talking apart")
    await wait_people_state(child, ana.participant_id, lacks="talking apart")
    await worker.locator("#chat-toggle").click()
    await worker.locator("#chat").wait_for(state="hidden")
    await say(child, "I am back")
    await shows_line(mother, "I am back")
    await worker.locator("#chat-badge").filter(has_text="1").wait_for()
    assert "1 new" in (await worker.locator("#chat-toggle").get_attribute("aria-label") or "")
    await open_chat(worker)
    await worker.locator("#chat-badge").wait_for(state="hidden")
    await shows_line(worker, "I am back")

    await worker.locator("#chat-save").click()
    await worker.locator("#chat-note").filter(has_text="Saved to the case record: 4 messages").wait_for()
    await shoot(worker, output_dir, "call-page-worker-chat")
    await shoot(mother, output_dir, "call-page-family-chat")

    for page in (mother, child):  # the connection test of the waiting room has reported (as it would have by now)
        await page.wait_for_function("() => 'connectionTest' in window.telepractice", timeout=WAIT_MS)
    await worker.locator("#end").click()
    await mother.locator("#evaluation form").wait_for()
    assert await mother.evaluate("() => window.telepractice.chat.transcript.lines.length") == 0
    before = len(pages.errors["worker"])
    record = await record_of(worker, prepared)
    # The record is built a moment after the end: this test's own polling met "not yet" (404) meanwhile.
    polled = pages.errors["worker"][before:]
    assert all("404" in error for error in polled), polled
    del pages.errors["worker"][before:]
    saved = [(line["name"], line["text"], line["side_room"]) for line in record["chat"]["lines"]]
    assert saved == [
        ("Ana Test", "Good morning, everyone", None),
        ("Tiago Test", "Can I tell you something?", "side-1"),
        ("Marta Worker", "Yes, only I can read this.", "side-1"),
        ("Tiago Test", "I am back", None),
    ]
    assert "Is anyone there?" not in str(record)
    # After the end the worker still has the chat and its save, but nobody to write to.
    assert await worker.locator("#chat-save").is_visible() and await worker.locator("#chat-form").is_hidden()
    no_page_errors(pages)


async def record_of(worker: Page, prepared: PreparedSession) -> dict[str, Any]:
    """The session record as the worker's page can read it (the server lives in the browsers' namespace)."""
    await worker.wait_for_function(
        """async ([id, token]) => (await fetch(`/api/sessions/${id}/record`,
             {headers: {Authorization: `Bearer ${token}`}})).status === 200""",
        arg=[prepared.session_id, prepared.worker_token], timeout=WAIT_MS, polling=200)
    return await worker.evaluate(
        """async ([id, token]) => (await fetch(`/api/sessions/${id}/record`,
             {headers: {Authorization: `Bearer ${token}`}})).json()""", [prepared.session_id, prepared.worker_token])


LISTEN = """() => { window.heard = []; const channel = new BroadcastChannel('telepractice.waiting');
                   channel.onmessage = (event) => window.heard.push(event.data); }"""


async def test_the_worker_is_told_the_moment_someone_waits_by_title_chime_and_a_message_to_their_other_tabs(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    await worker.wait_for_function("() => window.telepractice?.client?.state === 'joined'", timeout=WAIT_MS)
    base_title = await worker.title()
    # The worker's console, in another tab of the same browser: here a page of the same origin listening.
    console = await pages.contexts[0].new_page()
    await console.goto(pages.server.origin + "/healthz")
    await console.evaluate(LISTEN)
    await console.bring_to_front()

    family = await pages.open("ana", family_path(prepared, 0))
    await worker.wait_for_function("() => document.title.startsWith('(1) waiting — ')", timeout=WAIT_MS)
    assert await worker.title() == f"(1) waiting — {base_title}"
    await console.wait_for_function("() => window.heard.length > 0", timeout=WAIT_MS)
    assert await console.evaluate("() => window.heard") == [
        {"session": prepared.session_id, "waiting": 1, "names": ["Ana Test"]}]
    assert await worker.evaluate("() => window.telepractice.waitingAlert.chimes") == 1
    assert await worker.locator(f'#waiting-list [data-participant="{ana.participant_id}"]').is_visible()

    # The family's waiting room says who will let them in and the session's planned time.
    await family.locator("#status").filter(has_text="Your worker will let you in soon.").wait_for()
    plan = (await family.locator("#plan").inner_text()).strip()
    assert re.fullmatch(r"Your session is planned for \d{2}:\d{2} to \d{2}:\d{2}\.", plan), plan
    assert await family.locator("#quick-exit").is_visible() and await worker.locator("#quick-exit").is_hidden()
    await shoot(family, output_dir, "call-page-family-waiting")
    await shoot(worker, output_dir, "call-page-worker-someone-waiting")

    await admit(worker, ana.participant_id)
    await worker.wait_for_function("(title) => document.title === title", arg=base_title, timeout=WAIT_MS)
    await console.wait_for_function("() => window.heard.length === 2", timeout=WAIT_MS)
    assert (await console.evaluate("() => window.heard"))[1] == {
        "session": prepared.session_id, "waiting": 0, "names": []}
    assert await family.locator("#plan").is_hidden()
    no_page_errors(pages)


# Video frames that arrived from `peer` in `ms`, from the receiver's statistics: nothing on screen can fake them.
VIDEO_FRAMES_RECEIVED = """
async ([peer, ms]) => {
  const pc = window.telepractice.call.peers.get(peer).pc;
  const received = async () => {
    let frames = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesReceived ?? 0; });
    return frames;
  };
  const before = await received();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (await received()) - before;
}
"""


async def test_audio_only_stops_video_both_ways_and_brings_it_back(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("ana", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    button = family.locator("#audio-only")
    assert (await button.inner_text()).strip() == "Audio only"
    box = await button.bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 48

    await button.click()
    await family.wait_for_function("() => document.querySelector('#audio-only').getAttribute('aria-pressed') === 'true'")
    for page in (family, worker):  # the answer has been applied at both ends
        await page.wait_for_function(
            """() => [...window.telepractice.call.peers.values()].every((link) => link.pc.getTransceivers()
                 .filter((t) => t.receiver.track.kind === 'video').every((t) => t.currentDirection === 'inactive'))""",
            timeout=WAIT_MS)
    await worker.wait_for_function(
        "(id) => window.telepractice.people.get(id)?.video === false", arg=ana.participant_id, timeout=WAIT_MS)
    await family.wait_for_timeout(1000)  # frames already in flight, and decoded
    assert await worker.evaluate(VIDEO_FRAMES_RECEIVED, [ana.participant_id, 1000]) == 0
    assert await family.evaluate(VIDEO_FRAMES_RECEIVED, [prepared.worker_id, 1000]) == 0
    assert "camera off" in await wait_people_state(worker, ana.participant_id, has="camera off")
    await family.locator("#status").filter(has_text="Audio only").wait_for()
    await shoot(family, output_dir, "call-page-family-audio-only")

    await button.click()
    assert (await button.inner_text()).strip() == "Audio only"
    await worker.wait_for_function(
        "(id) => window.telepractice.people.get(id)?.video === true", arg=ana.participant_id, timeout=WAIT_MS)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    assert await worker.evaluate(FRAMES_IN, [ana.participant_id, 700]) > 3
    no_page_errors(pages)


async def test_the_safety_code_shows_on_request_with_one_sentence_and_matches_at_both_ends(
    pages: Pages, prepared: PreparedSession
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("ana", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    await family.wait_for_function("() => Object.values(window.telepractice.call.summary()).every((p) => p.safetyCode)",
                                   timeout=WAIT_MS)
    assert await family.locator(".tile .safety-code").first.is_hidden(), "not shown until asked for"

    codes = {}
    for page, other in ((family, prepared.worker_id), (worker, ana.participant_id)):
        await page.locator("#safety-toggle").click()
        assert await page.locator("#safety-toggle").get_attribute("aria-expanded") == "true"
        explain = (await page.locator("#safety-explain").inner_text()).strip()
        assert explain.startswith("Read your code aloud") and explain.count(".") == 1
        code = page.locator(f'#safety-list li[data-participant="{other}"] .code')
        await page.wait_for_function(
            "(id) => /^\\d{3} \\d{3}$/.test(document.querySelector("
            "`#safety-list li[data-participant=\"${CSS.escape(id)}\"] .code`)?.textContent ?? '')",
            arg=other, timeout=WAIT_MS)
        codes[other] = (await code.inner_text()).strip()
        assert await page.locator(f'.tile[data-key="{other}"] .safety-code').is_visible()
    assert codes[prepared.worker_id] == codes[ana.participant_id]
    assert "Ana Test" in await worker.locator("#safety-list").inner_text()
    await family.locator("#safety-toggle").click()
    await family.locator("#safety").wait_for(state="hidden")
    no_page_errors(pages)


WATCH_CONNECTION = """() => { const seen = window.connectionSeen = [];
  const region = document.querySelector('#connection');
  new MutationObserver(() => { if (!region.hidden) seen.push(region.textContent); })
    .observe(region, {childList: true, characterData: true, subtree: true, attributes: true}); }"""


async def test_a_dropped_connection_is_told_calmly_and_its_return_too_and_the_quick_exit_leaves_the_call(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("ana", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    assert await family.locator("#connection").get_attribute("role") == "status"
    await family.evaluate(WATCH_CONNECTION)

    await family.evaluate("() => window.telepractice.client.socket.close()")
    await family.locator("#connection").filter(has_text="You are connected again.").wait_for()
    seen = await family.evaluate("() => window.connectionSeen")
    lost = "The connection dropped. We are fixing it now: you do not need to do anything."
    assert lost in seen and seen.index(lost) < seen.index("You are connected again.")
    await shoot(family, output_dir, "call-page-family-back-after-a-drop")
    await video_playing(family, prepared.worker_id)

    assert "Ana Test" in await people_state(worker, ana.participant_id)
    await family.locator("#quick-exit").click()
    await family.wait_for_url("**/exit")
    await worker.wait_for_function(
        "(id) => !document.querySelector(`#people-list li[data-participant=\"${CSS.escape(id)}\"]`)"
        " && !window.telepractice.call.peers.has(id)", arg=ana.participant_id, timeout=WAIT_MS)
    assert await family.evaluate("() => sessionStorage.length + localStorage.length") == 0
    no_page_errors(pages)


async def test_the_hosts_timer_counts_against_the_plan_and_turns_to_a_calm_warning_near_the_planned_end(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    worker = await pages.open("worker", staff_path(prepared))
    timer = worker.locator("#timer")
    await timer.wait_for()
    assert re.fullmatch(r"Session time: \d+:\d{2} of 60:00", (await timer.inner_text()).strip())
    assert await timer.get_attribute("class") == "timer"

    # What the session clock (telepractice/sessions/session_clock.py) sends five minutes before the end,
    # handed to the page's client as the socket would; here the plan was moved to end in four minutes.
    await worker.evaluate("""() => window.telepractice.client.emit('time-warning', {v: 1, type: 'time-warning',
        planned_end: new Date(Date.now() + 4 * 60_000 - 1000).toISOString(), minutes_left: 4})""")
    await worker.wait_for_function("() => document.querySelector('#timer').classList.contains('warning')",
                                   timeout=WAIT_MS)
    assert (await timer.inner_text()).strip().endswith("· 4 min left")
    await worker.locator("#connection").filter(has_text="About 4 minutes left of the planned time.").wait_for()
    await shoot(worker, output_dir, "call-page-worker-time-warning")
    no_page_errors(pages)
