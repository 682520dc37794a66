"""Every page, in every state that matters, at a phone and a desktop size, in Portuguese and English.

Each state must have zero axe-core violations of WCAG 2.0/2.1 A and AA, every
control reachable with Tab and showing its focus, and `<html lang>` set to
the language shown; its screenshot is saved as
test-output/screenshots/<page>-<state>-<lang>-<size>.png for a person to look at.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.async_api import Page

from telepractice.testing.server import PreparedSession, settings_for
from tests.browser.conftest import WAIT_MS
from tests.browser.page_checks import (
    CheckedPages, Language, Size, check_state, english_fragments, english_shown, keyboard_problems,
)
from tests.browser.test_call import admit, staff_path, video_playing
from tests.browser.test_console import CASE, ConsoleData, prepare_console

pytestmark = [pytest.mark.browser, pytest.mark.network]

EVERY_WAY = pytest.mark.parametrize(("language", "size"), [
    ("pt", "phone"), ("en", "phone"), ("pt", "desktop"), ("en", "desktop"),
])


@EVERY_WAY
async def test_the_front_page_passes_every_check(
    checked_pages: CheckedPages, output_dir: Path, language: Language, size: Size
) -> None:
    page = await checked_pages.open("visitor", "/", language=language, size=size)
    await page.locator("h1").wait_for()
    assert await check_state(page, output_dir, "front", "first-visit", language, size) == []
    assert checked_pages.page_errors() == {}


async def test_the_checks_find_a_nameless_button_a_hidden_focus_and_a_wrong_language(
    checked_pages: CheckedPages, output_dir: Path
) -> None:
    """The checks themselves can fail: break the front page on purpose and see each problem named."""
    page = await checked_pages.open("visitor", "/", language="en", size="desktop")
    await page.locator("h1").wait_for()
    assert await check_state(page, output_dir, "front", "first-visit", "en", "desktop") == []
    # Made through the DOM and CSSOM, which the page's CSP allows (it governs markup and scripts, not these).
    await page.evaluate("""() => {
      const nameless = document.createElement('button');
      nameless.id = 'nameless';
      const unseen = document.createElement('button');
      unseen.id = 'unseen';
      unseen.textContent = 'Unseen focus';
      unseen.style.outline = 'none';
      document.querySelector('main').append(nameless, unseen);
      document.documentElement.lang = 'pt';
    }""")
    problems = await check_state(page, output_dir, "broken", "on-purpose", "en", "desktop")
    assert any("<html lang> is 'pt'" in problem for problem in problems)
    assert any("button-name" in problem and "#nameless" in problem for problem in problems)
    assert any('no visible focus: button#unseen "Unseen focus"' in problem for problem in problems)
    # A control that keeps Tab to itself leaves every control after it out of reach.
    await page.evaluate("""() => {
      const trap = document.createElement('button');
      trap.textContent = 'Trap';
      trap.addEventListener('keydown', (event) => { if (event.key === 'Tab') event.preventDefault(); });
      document.querySelector('main').prepend(trap);
    }""")
    assert 'not reachable with Tab: button#unseen "Unseen focus"' in await keyboard_problems(page)
    english = sorted(english_fragments())[0]
    await page.evaluate("(text) => document.querySelector('main').append(text)", english)
    assert f"English text shown: {english!r}" in await english_shown(page)
    (output_dir / "screenshots" / "broken-on-purpose-en-desktop.png").unlink()


@EVERY_WAY
async def test_the_family_path_and_the_call_page_pass_every_check_from_the_link_to_the_quick_exit(
    checked_pages: CheckedPages, prepared: PreparedSession, output_dir: Path, language: Language, size: Size
) -> None:
    bia = prepared.family[2]  # no consent on record yet, so her path has every step
    problems: list[str] = []

    async def check(page: Page, page_name: str, state: str, **options: str) -> None:
        problems.extend(await check_state(page, output_dir, page_name, state, language, size, **options))

    worker = await checked_pages.open("worker", staff_path(prepared), language=language, size=size)
    family = await checked_pages.open("family", f"/join#invite={bia.join_token}", language=language, size=size)
    await step(family, "language")
    await check(family, "join", "language")
    await family.locator(f'main#step[data-step="language"] button[data-language="{language}"]').click()

    await step(family, "consent")
    await family.locator(".consent-text").wait_for()
    await check(family, "join", "consent")
    await family.locator("#agree").click()

    await step(family, "preview")
    await family.wait_for_function("() => document.querySelector('#join')?.disabled === false", timeout=WAIT_MS)
    await check(family, "join", "preview")
    await family.locator("#join").click()

    await family.wait_for_url("**/call")
    await worker.wait_for_function(
        "(id) => document.querySelector(`#waiting-list [data-participant=\"${id}\"] button.admit`)?.disabled === false",
        arg=bia.participant_id, timeout=WAIT_MS)
    await family.locator("#controls").wait_for()
    await check(family, "call", "family-waiting")
    await check(worker, "call", "worker-someone-waiting")

    await admit(worker, bia.participant_id)
    await video_playing(worker, bia.participant_id)
    await video_playing(family, prepared.worker_id)
    await check(family, "call", "family-in-call")
    await check(worker, "call", "worker-in-call")
    # The call's side panels open: the chat (with a line said), who is in the call, and the safety code.
    for page in (family, worker):
        for toggle in ("#chat-toggle", "#people-toggle", "#safety-toggle"):
            await page.locator(toggle).click()
    said = {"pt": "Estou bem, obrigada.", "en": "I am fine, thank you."}[language]
    await family.locator("#chat-input").fill(said)
    await family.locator("#chat-send").click()
    await worker.locator("#chat-log li").filter(has_text=said).wait_for()
    await check(family, "call", "family-panels-open")
    await check(worker, "call", "worker-panels-open")
    # The discreet help signal: the worker's page shows the alert, the family's shows nothing new.
    await family.locator("#help").click()
    await worker.locator(f'#alerts li[data-participant="{bia.participant_id}"]').wait_for()
    await check(worker, "call", "worker-help-alert")
    await check(family, "call", "family-after-help")

    # The waiting room's connection test posts its result when done; a session ended before then would refuse it.
    await family.wait_for_function("() => window.telepractice.connectionTest !== undefined", timeout=WAIT_MS)
    await worker.locator("#end").click()
    form = family.locator("#evaluation form")
    await form.wait_for()
    await check(family, "call", "family-evaluation")
    await check(worker, "call", "worker-ended")
    await form.locator('input[name="usefulness"][value="3"]').check()
    await form.locator('input[name="comfort"][value="4"]').check()
    await form.locator('button[type="submit"]').click()

    await family.wait_for_url("**/goodbye")
    await step(family, "goodbye")
    await check(family, "goodbye", "after-evaluation")
    await family.locator("#quick-exit").click()
    await family.wait_for_url("**/exit")
    # The quick exit's page copies a blank tab in the browser's own language (the context's locale).
    await check(family, "exit", "after-quick-exit")
    assert await family.title() == {"pt": "Novo separador", "en": "New Tab"}[language]
    assert (await family.locator("body").inner_text()).strip() == ""

    assert problems == [], "\n".join(problems)
    assert checked_pages.page_errors() == {}


async def step(page: Page, name: str) -> None:
    await page.locator(f'main#step[data-step="{name}"]').wait_for()


class TestTheConsole:
    """The staff console, with the data of tests/browser/test_console.py: staff passwords, an ended session, an alert."""

    @pytest.fixture
    async def prepared(self, server_env: dict[str, str]) -> ConsoleData:  # type: ignore[override]
        return await prepare_console(settings_for(server_env))

    @EVERY_WAY
    async def test_every_view_for_a_worker_and_a_supervisor_passes_every_check(
        self, checked_pages: CheckedPages, prepared: ConsoleData, output_dir: Path, language: Language, size: Size
    ) -> None:
        problems: list[str] = []

        async def check(page: Page, state: str) -> None:
            problems.extend(await check_state(page, output_dir, "console", state, language, size))

        worker = await checked_pages.open("worker", "/console", language=language, size=size)
        await worker.locator("form.login").wait_for()
        await check(worker, "login")
        await log_in(worker, "test.worker", prepared.worker_password)
        await view(worker, f'a[data-case="{CASE}"]')
        await check(worker, "worker-cases")

        await worker.locator(f'a[data-case="{CASE}"]').click()
        await view(worker, "form.schedule-form")
        await check(worker, "worker-case")
        form = worker.locator("form.schedule-form")
        await form.locator('select[name="kind"]').select_option("family")
        tomorrow = (dt.datetime.now() + dt.timedelta(days=1)).replace(hour=10, minute=0)
        await form.locator('input[name="planned_start"]').fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
        await form.locator('button[type="submit"]').click()
        await worker.locator('article.session-card [data-action="links"]').first.click()
        await worker.locator('.links-form button[type="submit"]').click()
        await worker.locator(".made-link").first.wait_for()
        await check(worker, "worker-case-links")
        await worker.locator(f'button[data-withdraw="{prepared.family["Ana Test"]}"]').click()
        await worker.locator("form.withdrawal-form textarea").fill("By phone at 10:00.")
        await check(worker, "worker-case-withdrawal")

        await worker.goto(f"{checked_pages.server.origin}/console#/record/{prepared.ended_session_id}")
        await view(worker, "[data-minutes]")
        await check(worker, "worker-session-record")
        await worker.goto(f"{checked_pages.server.origin}/console#/follow-ups")
        await view(worker, "h1#view-title")
        await check(worker, "worker-follow-ups")

        supervisor = await checked_pages.open("supervisor", "/console", language=language, size=size)
        await log_in(supervisor, "test.supervisor", prepared.supervisor_password)
        await view(supervisor, f'a[data-case="{CASE}"]')
        await check(supervisor, "supervisor-team")
        await supervisor.goto(f"{checked_pages.server.origin}/console#/alerts")
        await view(supervisor, f'li[data-alert="{prepared.alert_id}"]')
        await check(supervisor, "supervisor-alerts")
        await supervisor.goto(f"{checked_pages.server.origin}/console#/audit")
        await view(supervisor, ".audit-results")
        await check(supervisor, "supervisor-audit")

        assert problems == [], "\n".join(problems)
        assert checked_pages.page_errors() == {}


async def log_in(page: Page, username: str, password: str) -> None:
    """Through the login form by its fields' names: the words on it depend on the language."""
    await page.locator('form.login input[name="username"]').fill(username)
    await page.locator('form.login input[name="password"]').fill(password)
    await page.locator('form.login button[type="submit"]').click()


async def view(page: Page, shows: str) -> None:
    """Until the console has drawn a view (its heading has focus) that shows ``shows``."""
    await page.locator(shows).first.wait_for()
    await page.wait_for_function("() => !document.querySelector('main#console').hasAttribute('aria-busy')"
                                 " && document.activeElement?.id === 'view-title'", timeout=WAIT_MS)
