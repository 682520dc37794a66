"""The safety signal in real Chromium pages: a family member's help shows on the worker's page, nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from telepractice.testing.server import PreparedSession
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.test_call import admit, family_path, no_page_errors, screenshot, staff_path

pytestmark = [pytest.mark.browser, pytest.mark.network]

# Every message type the page's client receives from now on, kept on the page.
RECORD_MESSAGES = "() => { window.seen = []; window.telepractice.client.on('message', (m) => window.seen.push(m.type)); }"


async def in_call(page: Page) -> None:
    await page.wait_for_function("() => window.telepractice?.client?.state === 'joined'"
                                 " && document.querySelector('#status').textContent.length > 0", timeout=WAIT_MS)
    await page.locator("#status").filter(has_text="session").wait_for()


async def test_a_childs_help_reaches_the_workers_page_and_not_the_other_family_members(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana, rui = prepared.family[:2]
    worker = await pages.open("worker", staff_path(prepared))
    first = await pages.open("ana", family_path(prepared, 0))
    second = await pages.open("rui", family_path(prepared, 1))
    await admit(worker, ana.participant_id)
    await admit(worker, rui.participant_id)
    for page in (first, second):
        await in_call(page)
    assert await worker.locator("#help").is_hidden()
    await first.evaluate(RECORD_MESSAGES)
    await second.evaluate(RECORD_MESSAGES)
    status_before = await second.locator("#status").text_content()

    await second.locator("#help").click()
    # The faint mark only this screen shows, looked for at once: it fades after a few seconds by design.
    await second.locator("#help.sent").wait_for(state="attached")
    banner = worker.locator("#alerts")
    await banner.wait_for(state="visible")
    item = banner.locator(f'li[data-participant="{rui.participant_id}"]')
    await item.wait_for()
    assert "Rui Test" in (await item.text_content() or "")
    assert await banner.get_attribute("data-count") == "1"
    assert (await worker.title()).startswith("(1) ")

    # The keyboard shortcut asks again, just as quietly.
    await second.keyboard.press("Alt+KeyH")
    await worker.wait_for_function("() => document.querySelector('#alerts').dataset.count === '2'", timeout=WAIT_MS)
    await screenshot(worker, output_dir, "help-worker-banner")
    await screenshot(second, output_dir, "help-family-after-pressing")

    assert await second.locator("#status").text_content() == status_before
    assert await second.locator("#alerts").is_hidden() and await first.locator("#alerts").is_hidden()

    for remaining in ("1", "0"):
        await banner.locator("button.acknowledge:enabled").first.click()
        await worker.wait_for_function("(n) => document.querySelector('#alerts').dataset.count === n", arg=remaining,
                                       timeout=WAIT_MS)
    await banner.wait_for(state="hidden")
    assert not (await worker.title()).startswith("(")
    # Round trips after the acknowledgements: anything meant for the family pages has arrived by now.
    for page in (first, second):
        await page.evaluate("() => window.telepractice.client.send({v: 1, type: 'ping', nonce: 99})")
        await page.wait_for_function("() => window.seen.includes('pong')", timeout=WAIT_MS)
    for page in (first, second):
        seen = await page.evaluate("() => window.seen")
        assert [kind for kind in seen if kind.startswith("help")] == [], seen
    no_page_errors(pages)


async def test_the_family_answers_the_evaluation_when_the_worker_ends_the_session(
    pages: Pages, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("ana", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await in_call(family)
    await worker.locator("#end").click()
    form = family.locator("#evaluation form")
    await form.wait_for()
    await form.locator('input[name="usefulness"][value="4"]').check()
    await form.locator('input[name="comfort"][value="5"]').check()
    await form.locator("textarea").fill("Foi bom.")
    await screenshot(family, output_dir, "evaluation-family")
    await form.locator('button[type="submit"]').click()
    # Once sent, the goodbye page takes the call page's place (web/js/evaluation.js).
    await family.wait_for_url("**/goodbye")
    await family.locator("main").filter(has_text="Thank you").wait_for()
    no_page_errors(pages)
