"""The family's path around the call in real Chromium against the real server: from the personal link
through language, consent (or a child's assent) and the camera check into the call, refusing consent,
a blocked camera, the quick exit, and the goodbye page after the evaluation. Screenshots of each step
at phone and desktop size go to test-output/screenshots/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from sqlalchemy import select

from telepractice.storage.engine import make_engine, make_session_factory
from telepractice.storage.models import ConsentRecord, ConsentRefusal
from telepractice.testing.server import PreparedSession, RunningServer, prepare_family_session, settings_for
from telepractice.testing import netns
from tests.browser.conftest import CHROMIUM_ARGS, WAIT_MS
from tests.browser.test_call import admit, staff_path, video_playing

pytestmark = [pytest.mark.browser, pytest.mark.network]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Counts every camera and microphone track stopped on the page, through a binding that outlives navigation.
COUNT_STOPPED_TRACKS = """
(() => {
  const stop = MediaStreamTrack.prototype.stop;
  MediaStreamTrack.prototype.stop = function () {
    if (this.readyState === 'live') window.trackStopped(this.kind);
    return stop.call(this);
  };
})();
"""


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    """Ana and Rui with consent on record, Bia without, and Rita, a child in Ana's care (Ana's consent, no assent)."""
    return await prepare_family_session(settings_for(server_env), ("Ana Test", "Rui Test"),
                                        without_consent=("Bia Test",), minors=("Rita Test",))


class Family:
    """Pages at phone size, each in its own context (its own device), with their errors and stopped tracks."""

    def __init__(self, browser: Browser, server: RunningServer, output_dir: Path) -> None:
        self.browser, self.server = browser, server
        self.shots = output_dir / "screenshots"
        self.shots.mkdir(parents=True, exist_ok=True)
        self.contexts: list[BrowserContext] = []
        self.errors: dict[str, list[str]] = {}
        self.stopped: dict[str, list[str]] = {}

    async def open(self, label: str, path: str, *, locale: str = "en-GB") -> Page:
        context = await self.browser.new_context(ignore_https_errors=True, viewport=PHONE, locale=locale)
        self.contexts.append(context)
        stopped = self.stopped.setdefault(label, [])
        await context.expose_binding("trackStopped", lambda _source, kind: stopped.append(kind))
        await context.add_init_script(COUNT_STOPPED_TRACKS)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors = self.errors.setdefault(label, [])
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        await page.goto(self.server.origin + path)
        return page

    async def screenshot(self, page: Page, name: str) -> None:
        """The page as it is now at phone size and at desktop size."""
        await page.screenshot(path=str(self.shots / f"family-{name}-phone.png"), full_page=True)
        await page.set_viewport_size(DESKTOP)
        await page.screenshot(path=str(self.shots / f"family-{name}-desktop.png"), full_page=True)
        await page.set_viewport_size(PHONE)

    def no_errors(self) -> None:
        # A denied camera is the browser's own console error in the permission test, not the page's.
        assert {label: errors for label, errors in self.errors.items() if errors} == {}

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def family(browser: Browser, server: RunningServer, output_dir: Path) -> AsyncIterator[Family]:
    opened = Family(browser, server, output_dir)
    try:
        yield opened
    finally:
        await opened.close()


def join_path(prepared: PreparedSession, index: int) -> str:
    return f"/join#invite={prepared.family[index].join_token}"


async def step(page: Page, name: str) -> None:
    await page.locator(f'main[data-step="{name}"]').wait_for()


async def choose_language(page: Page, language: str) -> None:
    await page.locator(f'main[data-step="language"] button[data-language="{language}"]').click()


async def storage(page: Page) -> dict[str, Any]:
    return await page.evaluate("() => ({local: {...localStorage}, session: {...sessionStorage}})")


async def meter_moves(page: Page) -> float:
    """Waits until the microphone level meter has shown sound (the fake microphone beeps); its peak."""
    await page.wait_for_function("() => Number(document.querySelector('#mic-level')?.dataset.peak) > 0.05",
                                 timeout=WAIT_MS)
    return float(await page.locator("#mic-level").get_attribute("data-peak") or 0)


async def database_rows(server_env: dict[str, str], model: Any, participant_id: str) -> list[Any]:
    engine = make_engine(settings_for(server_env).database_url)
    try:
        async with make_session_factory(engine)() as session:
            rows = await session.execute(select(model).where(model.participant_id == participant_id))
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def test_a_parent_goes_from_the_link_through_language_consent_and_the_camera_check_into_the_call(
    family: Family, prepared: PreparedSession, server_env: dict[str, str]
) -> None:
    bia = prepared.family[2]
    worker = await family.open("worker", staff_path(prepared))
    page = await family.open("bia", join_path(prepared, 2), locale="pt-PT")
    assert "#" not in page.url, "the token must leave the address bar"
    entries = await page.evaluate("() => history.length")

    await step(page, "language")
    assert await page.locator("#quick-exit").is_visible()
    await family.screenshot(page, "1-language")
    await choose_language(page, "en")

    await step(page, "consent")
    await page.locator(".consent-text").filter(has_text="Nothing is recorded").wait_for()
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.get_by_role("button", name="No, I do not agree").is_visible()
    await family.screenshot(page, "2-consent")
    # Switching language later shows the server's Portuguese text and words.
    await page.locator("#languages button[lang=pt]").click()
    await page.locator(".consent-text").filter(has_text="Nada é gravado").wait_for()
    await page.get_by_role("button", name="Sim, concordo").click()

    await step(page, "preview")
    await page.wait_for_function("() => document.querySelector('video.self-view')?.videoWidth > 0", timeout=WAIT_MS)
    peak = await meter_moves(page)
    assert 0 < peak <= 1
    assert await page.locator("#media-fix").count() == 0
    await family.screenshot(page, "3-preview")
    [consent] = await database_rows(server_env, ConsentRecord, bia.participant_id)
    assert (consent.kind, consent.language, consent.given_by_participant_id) == ("consent", "pt", bia.participant_id)

    await page.locator("#join").click()
    await page.wait_for_url("**/call")
    assert await page.evaluate("() => history.length") == entries, "the path keeps one history entry"
    await worker.locator(f'#waiting-list [data-participant="{bia.participant_id}"] button.admit').wait_for()
    await family.screenshot(page, "4-waiting-room")
    await admit(worker, bia.participant_id)
    await video_playing(page, prepared.worker_id)
    await video_playing(worker, bia.participant_id)
    await family.screenshot(page, "5-call")
    family.no_errors()


async def test_refusing_consent_is_recorded_and_the_worker_cannot_let_them_in(
    family: Family, prepared: PreparedSession, server_env: dict[str, str]
) -> None:
    bia = prepared.family[2]
    page = await family.open("bia", join_path(prepared, 2))
    await choose_language(page, "en")
    await step(page, "consent")
    await page.get_by_role("button", name="No, I do not agree").click()
    await step(page, "refused")
    assert "another way to meet" in (await page.locator("main").text_content() or "")
    assert await page.locator("#join, video").count() == 0
    await family.screenshot(page, "refused")

    [refusal] = await database_rows(server_env, ConsentRefusal, bia.participant_id)
    assert (refusal.kind, refusal.refused_by_participant_id, refusal.language) == ("consent", bia.participant_id, "en")
    assert await database_rows(server_env, ConsentRecord, bia.participant_id) == []

    # Even straight at the call page with the same link, the worker's Admit stays off.
    worker = await family.open("worker", staff_path(prepared))
    await family.open("bia-call", f"/call#invite={bia.join_token}")
    waiting = worker.locator(f'#waiting-list [data-participant="{bia.participant_id}"]')
    await waiting.locator(".note").wait_for()
    assert await waiting.locator("button.admit").is_disabled()
    family.no_errors()


async def test_a_child_gives_their_own_assent_and_is_let_in(
    family: Family, prepared: PreparedSession, server_env: dict[str, str]
) -> None:
    rita = prepared.family[3]
    worker = await family.open("worker", staff_path(prepared))
    page = await family.open("rita", join_path(prepared, 3), locale="pt-PT")
    await choose_language(page, "pt")
    await step(page, "consent")
    await page.locator(".consent-text").filter(has_text="Podes dizer que não").wait_for()
    await family.screenshot(page, "child-assent")
    await page.get_by_role("button", name="Sim, quero").click()
    await step(page, "preview")
    assert await page.locator("#guardian-needed").count() == 0, "the guardian's consent is on record"
    [_consent, assent] = sorted(await database_rows(server_env, ConsentRecord, rita.participant_id),
                                key=lambda record: record.kind != "consent")
    assert (assent.kind, assent.given_by_participant_id) == ("assent", rita.participant_id)
    await page.locator("#join").click()
    await page.wait_for_url("**/call")
    await admit(worker, rita.participant_id)
    await video_playing(page, prepared.worker_id)
    family.no_errors()


async def set_devices_permission(page: Page, origin: str, setting: str) -> None:
    """What a person's "Block" or "Allow" for camera and microphone in the browser's site settings does."""
    cdp = await page.context.new_cdp_session(page)
    for name in ("camera", "microphone"):
        await cdp.send("Browser.setPermission", {"permission": {"name": name}, "setting": setting, "origin": origin})
    await cdp.detach()


@pytest.fixture
async def asking_family(namespace: netns.Namespace, server: RunningServer, output_dir: Path,
                        tmp_path: Path) -> AsyncIterator[Family]:
    """A Chromium that asks before using the camera instead of saying yes by itself, as a person's browser does."""
    wrapper = namespace.chromium_wrapper(tmp_path / "asking-bin")
    args = [arg for arg in CHROMIUM_ARGS if arg != "--use-fake-ui-for-media-stream"]
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(wrapper), args=args, timeout=WAIT_MS)
        opened = Family(launched, server, output_dir)
        try:
            yield opened
        finally:
            await opened.close()
            await launched.close()


async def test_a_blocked_camera_shows_how_to_allow_it_and_try_again_then_works(
    asking_family: Family, prepared: PreparedSession
) -> None:
    family = asking_family
    origin = family.server.origin
    page = await family.open("ana", "/exit")
    await set_devices_permission(page, origin, "denied")
    await page.goto(origin + join_path(prepared, 0))
    await choose_language(page, "en")
    await step(page, "preview")  # Ana's consent is on record: no consent step
    fix = page.locator("#media-fix")
    await fix.filter(has_text="blocked").wait_for()
    assert "tap the lock" in (await fix.text_content() or "")
    assert await page.locator("#join").text_content() == "Join without camera or microphone"
    await family.screenshot(page, "camera-blocked")

    await page.context.grant_permissions(["camera", "microphone"], origin=origin)
    await page.locator("#retry-media").click()
    await page.wait_for_function("() => document.querySelector('video.self-view')?.videoWidth > 0", timeout=WAIT_MS)
    assert await fix.count() == 0
    assert await page.locator("#join").text_content() == "Join the session"
    await meter_moves(page)


async def test_a_camera_check_whose_script_did_not_arrive_says_so_and_try_again_brings_it(
    family: Family, prepared: PreparedSession
) -> None:
    # The camera check's script is asked for after the first screen's (web/js/family/join-page.js): a phone that
    # loses its signal then must get the network step and a way on, not a page stuck on a failed fetch.
    page = await family.open("ana", "/exit")
    signal = {"lost": True}
    dropped: list[str] = []

    async def while_signal_lost(route: Route) -> None:
        if signal["lost"]:
            dropped.append(route.request.url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.context.route("**/js/family/preview.js", while_signal_lost)
    await page.goto(family.server.origin + join_path(prepared, 0))
    await choose_language(page, "en")
    await step(page, "network")
    assert len(dropped) == 2  # asked for with the first screen, and again when the camera check was due
    signal["lost"] = False
    await page.get_by_role("button", name="Try again").click()
    await step(page, "preview")  # Ana's consent is on record: no consent step
    await meter_moves(page)
    assert await page.locator("#join").text_content() == "Join the session"


async def quick_exit_leaves_nothing(family: Family, label: str, page: Page, entries: int) -> None:
    """After the tap: the neutral page in the same history entry, nothing stored, every track stopped."""
    live = await page.evaluate("() => [...document.querySelectorAll('video')].flatMap((v) => v.srcObject"
                               " ? v.srcObject.getTracks().filter((t) => t.readyState === 'live')"
                               ".map((t) => t.kind) : [])")
    assert "video" in live and "audio" in live
    family.stopped[label].clear()  # only what the exit itself stops counts
    await page.locator("#quick-exit").click()
    await page.wait_for_url("**/exit")
    assert await page.title() == "New Tab"
    assert (await page.locator("body").inner_text()).strip() == ""
    assert await page.evaluate("() => history.length") == entries
    assert await storage(page) == {"local": {}, "session": {}}
    # Stopped by the page before it went: camera and microphone (stopping them turns the camera light off).
    assert set(family.stopped[label]) == {"audio", "video"}, family.stopped[label]
    await page.go_back()
    assert not any(part in page.url for part in ("/join", "/call")), page.url


async def test_quick_exit_from_the_camera_check_leaves_no_history_storage_or_camera(
    family: Family, prepared: PreparedSession
) -> None:
    page = await family.open("ana", join_path(prepared, 0))
    entries = await page.evaluate("() => history.length")
    await choose_language(page, "en")
    await step(page, "preview")
    await meter_moves(page)
    stored = await storage(page)
    assert stored["local"] and stored["session"], "the language and the link are kept until the exit"
    cache = await page.evaluate("() => fetch('/join', {cache: 'no-store'}).then((r) => r.headers.get('cache-control'))")
    assert cache == "no-store"
    await quick_exit_leaves_nothing(family, "ana", page, entries)
    neutral = (await page.content()).lower()
    assert not any(word in neutral for word in ("telepractice", "session", "sessão", "social")), neutral


async def test_a_dead_link_says_to_ask_the_worker_for_a_new_one(family: Family) -> None:
    page = await family.open("someone", "/join#invite=not-a-real-link")
    await step(page, "link-invalid")  # the link is checked first: a dead one never asks for a language
    assert "ask your worker for a new link" in (await page.locator("main").text_content() or "")
    await family.screenshot(page, "link-dead")
    # The browser itself logs the refused check (401) to the console; the page raised nothing.
    assert [error for error in family.errors["someone"] if "Failed to load resource" not in error] == []


async def test_after_the_evaluation_sent_or_skipped_the_goodbye_page_has_no_way_back_into_the_call(
    family: Family, prepared: PreparedSession
) -> None:
    ana, rui = prepared.family[:2]
    worker = await family.open("worker", staff_path(prepared))
    first = await family.open("ana", f"/call#invite={ana.join_token}")
    second = await family.open("rui", f"/call#invite={rui.join_token}")
    entries = {page: await page.evaluate("() => history.length") for page in (first, second)}
    await admit(worker, ana.participant_id)
    await admit(worker, rui.participant_id)
    await video_playing(first, prepared.worker_id)
    await video_playing(second, prepared.worker_id)
    await worker.locator("#end").click()

    form = first.locator("#evaluation form")
    await form.wait_for()
    await family.screenshot(first, "6-evaluation")
    await form.locator('input[name="usefulness"][value="5"]').check()
    await form.locator('input[name="comfort"][value="4"]').check()
    await form.locator('button[type="submit"]').click()
    await second.locator("#evaluation button.skip").click()

    for page in (first, second):
        await page.wait_for_url("**/goodbye")
        await step(page, "goodbye")
        assert "nothing else you need to do" in (await page.locator("main").text_content() or "")
        assert await page.locator("#quick-exit").is_visible()
        assert await page.evaluate("() => history.length") == entries[page]
        assert "telepractice.call" not in (await storage(page))["session"]
    await family.screenshot(first, "7-goodbye")
    await second.go_back()
    assert "/call" not in second.url and "/goodbye" not in second.url, second.url
    family.no_errors()


async def test_quick_exit_from_the_call_leaves_the_call_and_no_history_storage_or_camera(
    family: Family, prepared: PreparedSession
) -> None:
    ana = prepared.family[0]
    worker = await family.open("worker", staff_path(prepared))
    page = await family.open("ana", join_path(prepared, 0))
    entries = await page.evaluate("() => history.length")
    await choose_language(page, "en")
    await step(page, "preview")
    await page.locator("#join").click()
    await page.wait_for_url("**/call")
    await admit(worker, ana.participant_id)
    await video_playing(page, prepared.worker_id)
    await video_playing(worker, ana.participant_id)
    await quick_exit_leaves_nothing(family, "ana", page, entries)
    # The worker's page sees the family member leave the call at once, not after a time-out.
    await worker.wait_for_function(
        "(id) => !document.querySelector(`.tile[data-key=\"${CSS.escape(id)}\"]`)", arg=ana.participant_id,
        timeout=WAIT_MS)


ISSUE_LINK_WITH_CODE = """
async ([session, token, participant]) => {
  const response = await fetch(`/api/sessions/${session}/invites`, {
    method: 'POST', headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
    body: JSON.stringify({participants: [participant], join_code: true}),
  });
  const body = await response.json();
  return {status: response.status, link: body.invites[0].link, code: body.invites[0].code};
}
"""


async def test_a_link_with_a_join_code_asks_for_it_and_the_replaced_link_says_to_ask_for_a_new_one(
    family: Family, prepared: PreparedSession
) -> None:
    bia = prepared.family[2]
    # The worker's API as the console calls it, from a page of the server's origin.
    worker = await family.open("worker", "/")
    issued = await worker.evaluate(ISSUE_LINK_WITH_CODE, [prepared.session_id, prepared.worker_token, bia.participant_id])
    assert issued["status"] == 201 and len(issued["code"]) == 6
    wrong = f"{(int(issued['code']) + 1) % 1_000_000:06d}"

    page = await family.open("bia", issued["link"].removeprefix(family.server.origin))
    await choose_language(page, "en")
    await step(page, "code")
    assert "Bia" not in (await page.locator("main").text_content() or ""), "no name before the code"
    await page.get_by_label("6-number code").fill(wrong)
    await page.locator("main button[type=submit]").click()
    await page.locator("#code-message").filter(has_text="4 more times").wait_for()
    await family.screenshot(page, "join-code")
    await page.get_by_label("6-number code").fill(issued["code"])
    await page.locator("main button[type=submit]").click()
    await step(page, "consent")
    assert "Hello, Bia." in (await page.locator("main").text_content() or "")

    # The link Bia had before was replaced by the new one.
    old = await family.open("bia-old", join_path(prepared, 2))
    await step(old, "link-invalid")
    assert await old.evaluate("() => sessionStorage.length") == 0
    errors = family.errors.pop("bia", []) + family.errors.pop("bia-old", [])
    # The browser logs the refused requests (422 wrong code, 410 old link) itself; the pages raised nothing.
    assert [error for error in errors if "Failed to load resource" not in error] == []
    family.no_errors()


@pytest.fixture
async def deviceless_family(namespace: netns.Namespace, server: RunningServer, output_dir: Path,
                            tmp_path: Path) -> AsyncIterator[Family]:
    """A Chromium with no camera and no microphone at all (no fake devices), like an old desktop."""
    wrapper = namespace.chromium_wrapper(tmp_path / "deviceless-bin")
    args = [arg for arg in CHROMIUM_ARGS if arg != "--use-fake-device-for-media-stream"]
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(wrapper), args=args, timeout=WAIT_MS)
        opened = Family(launched, server, output_dir)
        try:
            yield opened
        finally:
            await opened.close()
            await launched.close()


async def test_without_camera_or_microphone_the_check_says_so_and_the_person_can_still_join(
    deviceless_family: Family, prepared: PreparedSession
) -> None:
    family = deviceless_family
    page = await family.open("ana", join_path(prepared, 0))
    await choose_language(page, "en")
    await step(page, "preview")
    await page.locator("#media-fix").filter(has_text="did not find a camera or a microphone").wait_for()
    assert await page.locator("video.self-view, #mic-level").count() == 0
    join = page.locator("#join")
    assert await join.text_content() == "Join without camera or microphone"
    await family.screenshot(page, "no-devices")
    # Switched here, every word of the step follows, the fix and the notes included.
    await page.locator("#languages button[lang=pt]").click()
    await page.locator("#media-fix").filter(has_text="Não encontrámos câmara nem microfone").wait_for()
    assert await join.text_content() == "Entrar sem câmara nem microfone"
    assert "espere um pouco" in (await page.locator("main").text_content() or "")
    assert "wait a little" not in (await page.locator("main").text_content() or "")
    await join.click()
    await page.wait_for_url("**/call")


async def test_escape_pressed_twice_quickly_is_a_quick_exit_and_once_is_not(
    family: Family, prepared: PreparedSession
) -> None:
    page = await family.open("ana", join_path(prepared, 0))
    entries = await page.evaluate("() => history.length")
    await step(page, "language")
    await page.keyboard.press("Escape")
    await page.wait_for_timeout(1000)  # longer than the double-press window: the next press starts afresh
    await page.keyboard.press("Escape")
    await page.wait_for_timeout(300)
    assert "/join" in page.url
    await page.keyboard.press("Escape")
    await page.wait_for_url("**/exit")
    assert await page.evaluate("() => history.length") == entries
    assert await storage(page) == {"local": {}, "session": {}}


ADD_CHILD_AND_LINK = """
async ([reference, session, token, guardian]) => {
  const headers = {'Content-Type': 'application/json', Authorization: `Bearer ${token}`};
  const added = await fetch(`/api/cases/${reference}/participants`, {method: 'POST', headers,
    body: JSON.stringify({display_name: 'Tó Test', role: 'child', is_minor: true, guardian_id: guardian,
                          preferred_language: 'pt'})});
  const child = await added.json();
  const issued = await fetch(`/api/sessions/${session}/invites`, {method: 'POST', headers,
    body: JSON.stringify({participants: [child.id]})});
  return {child: child.id, link: (await issued.json()).invites[0].link};
}
"""


async def test_a_child_who_assents_first_waits_for_the_parent_who_then_consents_for_them(
    family: Family, prepared: PreparedSession, server_env: dict[str, str]
) -> None:
    bia = prepared.family[2]
    staff = await family.open("worker", "/")
    added = await staff.evaluate(ADD_CHILD_AND_LINK, ["BROWSER-0001", prepared.session_id, prepared.worker_token,
                                                      bia.participant_id])
    child = await family.open("to", added["link"].removeprefix(family.server.origin), locale="pt-PT")
    await choose_language(child, "pt")
    await step(child, "consent")
    await child.get_by_role("button", name="Sim, quero").click()
    await step(child, "preview")
    await child.locator("#guardian-needed").filter(has_text="responsável").wait_for()
    await child.locator("main h1").filter(has_text="Vê se a câmara").wait_for()  # a child's words: "tu"
    await child.wait_for_function("() => document.querySelector('#join')?.disabled === false", timeout=WAIT_MS)
    assert await child.locator("#join").text_content() == "Entrar"
    await family.screenshot(child, "child-waits-for-guardian")

    parent = await family.open("bia", join_path(prepared, 2))
    await choose_language(parent, "en")
    await step(parent, "consent")
    await parent.get_by_role("button", name="Yes, I agree").click()
    await parent.locator("main h1").filter(has_text="Permission for Tó").wait_for()
    await family.screenshot(parent, "guardian-consent")
    await parent.get_by_role("button", name="Yes, I agree").click()
    await step(parent, "preview")

    records = await database_rows(server_env, ConsentRecord, added["child"])
    assert sorted((record.kind, record.given_by_participant_id) for record in records) == [
        ("assent", added["child"]), ("consent", bia.participant_id)]
    family.no_errors()
