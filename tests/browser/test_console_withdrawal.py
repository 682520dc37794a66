"""Recording a withdrawal of consent from the staff console (issues 4 and 5), in real Chromium against the real server.

A worker in the console records that a family member withdrew consent, with a note, while that person is in
the call: the family member's page leaves the call at once, the worker's call page no longer shows them, the
console shows the withdrawal, and the note is in the session's record (its API and the console's record view).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect
from sqlalchemy import update

from telepractice.auth.passwords import hash_password
from telepractice.storage.engine import make_engine
from telepractice.storage.models import StaffMember
from telepractice.testing.server import PreparedSession, RunningServer, prepare_family_session, settings_for
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.test_call import admit, family_path, no_page_errors, screenshot, staff_path, video_playing
from tests.browser.test_console import DESKTOP, PHONE, Console, english

pytestmark = [pytest.mark.browser, pytest.mark.network]

CASE = "BROWSER-0001"  # the case prepare_family_session makes
WORKER_PASSWORD = secrets.token_urlsafe(15)
NOTE = "Ana phoned at 10:05 and said she does not want to go on with the sessions."

# The record as the console reads it: the worker's staff token in the Authorization header.
READ_RECORD = """
async ([sessionId, token]) => {
  const response = await fetch(`/api/sessions/${sessionId}/record`, {headers: {Authorization: `Bearer ${token}`}});
  return {status: response.status, body: await response.json()};
}
"""


@pytest.fixture(autouse=True)
def patient_expect() -> Any:
    """Assertions wait as long as the browser tests' other waits (a loaded CI machine is slow)."""
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    """Conftest's family session, and a password the test knows for its worker's console login."""
    settings = settings_for(server_env)
    session = await prepare_family_session(settings, ("Ana Test", "Rui Test"), without_consent=("Bia Test",))
    engine = make_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(StaffMember).where(StaffMember.username == "test.worker")
                                     .values(password_hash=hash_password(WORKER_PASSWORD)))
    finally:
        await engine.dispose()
    return session


async def shots(page: Page, shown: Locator, output_dir: Path, name: str) -> None:
    """``shown`` at phone and desktop size, under test-output/screenshots/console-<name>-<size>.png."""
    folder = output_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        await shown.scroll_into_view_if_needed()
        await screenshot(page, folder, f"console-{name}-{size_name}")
    await page.set_viewport_size({"width": 960, "height": 720})


async def ended_record(worker: Page, prepared: PreparedSession) -> dict[str, Any]:
    """The session's record once the end has built it."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        answer = await worker.evaluate(READ_RECORD, [prepared.session_id, prepared.worker_token])
        if answer["status"] == 200:
            return answer["body"]
        assert answer["status"] == 404, answer  # "not ended yet": the end builds the record just after
        assert time.monotonic() < deadline, f"no record in time; last answer {answer}"
        await asyncio.sleep(0.25)


async def test_a_worker_records_a_withdrawal_with_a_note_and_the_person_leaves_the_call_at_once(
    pages: Pages, server: RunningServer, prepared: PreparedSession, output_dir: Path
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("ana", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)
    # Her waiting room's connection test reports first: a session ended before then refuses the result (410).
    await family.wait_for_function("() => window.telepractice.connectionTest !== undefined", timeout=WAIT_MS)

    console = await Console.open(pages, "console", server)
    page = console.page
    await english(console)
    await console.log_in("test.worker", WORKER_PASSWORD)
    await console.heading("My cases")
    await page.locator(f'a[data-case="{CASE}"]').click()
    await console.heading(f"Case {CASE}")
    row = page.locator("tr", has=page.locator(f'[data-withdraw="{ana.participant_id}"]'))
    # The case record's consent history: Ana's consent stands, with its date and text version.
    await expect(row.locator(".consent-state")).to_have_attribute("data-consent", "given")
    await expect(row.locator(".consent-state")).to_contain_text("Given on")

    opener = page.locator(f'button[data-withdraw="{ana.participant_id}"]')
    await expect(opener).to_have_accessible_name("Record a withdrawal of consent")
    await expect(opener).to_have_accessible_description("Ana Test")
    await opener.click()
    await expect(opener).to_have_attribute("aria-expanded", "true")
    form = page.locator(f'form.withdrawal-form[data-participant="{ana.participant_id}"]')
    await expect(form).to_contain_text("Ana Test leaves any call at once and their links stop working")
    note = form.get_by_label("How and when Ana Test withdrew consent (you may leave this empty)")
    await expect(note).to_be_focused()

    # Cancel closes the form and changes nothing; the person is still in the call.
    await form.get_by_role("button", name="Cancel").click()
    await expect(form).to_have_count(0)
    await expect(opener).to_be_focused()
    assert await family.evaluate("() => window.telepractice.client.state") == "joined"

    await opener.click()
    await note.fill(NOTE)
    await shots(page, form, output_dir, "withdrawal-form")
    await form.get_by_role("button", name="Confirm").click()

    state = row.locator(".consent-state")
    await expect(state).to_have_attribute("data-consent", "withdrawn")
    await expect(state).to_contain_text("Withdrawn on")
    await expect(page.locator(f'form.withdrawal-form[data-participant="{ana.participant_id}"]')).to_have_count(0)
    await shots(page, state, output_dir, "withdrawal-done")

    # Her page leaves the call: a final word in the status line, the call's controls gone, the socket closed.
    await family.wait_for_function("() => window.telepractice.client.state === 'closed'", timeout=WAIT_MS)
    await expect(family.locator("#controls")).to_be_hidden()
    await expect(family.locator("#status")).not_to_be_empty()
    # The worker's call page no longer has her: no picture, no connection, not in the list of who is here.
    await worker.wait_for_function(
        "(id) => !document.querySelector(`#people-list li[data-participant=\"${CSS.escape(id)}\"]`)"
        " && !window.telepractice.call.peers.has(id)"
        " && !document.querySelector(`.tile[data-key=\"${CSS.escape(id)}\"]`)",
        arg=ana.participant_id, timeout=WAIT_MS)

    # Her link stopped: opening it again does not bring her back in.
    again = await pages.open("ana-again", family_path(prepared, 0))
    await again.wait_for_function("() => window.telepractice?.client.state === 'closed'", timeout=WAIT_MS)
    assert await again.locator("#controls").is_hidden()

    # The session's record keeps the withdrawal with the note: its API, and the console's record view.
    await worker.locator("#end").click()
    record = await ended_record(worker, prepared)
    withdrawals = [w for w in record["consent_withdrawals"] if w["participant_id"] == ana.participant_id]
    assert withdrawals and all(w["note"] == NOTE for w in withdrawals), record["consent_withdrawals"]
    await page.goto(f"{server.origin}/console#/record/{prepared.session_id}")
    section = page.locator('section[aria-labelledby="record-withdrawals-title"]')
    await expect(section.get_by_role("row", name="Ana Test")).to_contain_text(NOTE)
    assert console.other_origins() == []
    # The only failed loads on the worker's page are this test's own reads of the record before it existed.
    pages.errors["worker"] = [e for e in pages.errors["worker"] if "404 (Not Found)" not in e]
    no_page_errors(pages)


async def test_a_note_for_someone_without_consent_is_refused_in_words_and_the_note_stays(
    pages: Pages, server: RunningServer, prepared: PreparedSession
) -> None:
    bia = prepared.family[2]  # no consent on record
    console = await Console.open(pages, "console", server)
    page = console.page
    await english(console)
    await console.log_in("test.worker", WORKER_PASSWORD)
    await console.heading("My cases")
    await page.locator(f'a[data-case="{CASE}"]').click()
    await console.heading(f"Case {CASE}")
    await page.locator(f'button[data-withdraw="{bia.participant_id}"]').click()
    form = page.locator(f'form.withdrawal-form[data-participant="{bia.participant_id}"]')
    note = form.locator("textarea")
    await note.fill("Said on the phone she wants nothing more to do with it.")
    await form.get_by_role("button", name="Confirm").click()
    await expect(form.locator(".error")).to_have_text(
        "Bia Test has no consent on record, so there is nowhere to keep the note. Clear the note to only stop their links.")
    await expect(note).to_have_value("Said on the phone she wants nothing more to do with it.")

    # Past the textarea's own limit only by a script; the page checks it before sending too.
    await note.evaluate("(area) => { area.value = 'x'.repeat(2001); }")
    await form.get_by_role("button", name="Confirm").click()
    await expect(form.locator(".error")).to_have_text("The note is too long: use at most 2000 characters.")

    await note.fill("")
    await form.get_by_role("button", name="Confirm").click()
    state = page.locator("tr", has=page.locator(f'[data-withdraw="{bia.participant_id}"]')).locator(".consent-state")
    await expect(state).to_have_attribute("data-consent", "none")
    await expect(state).to_have_text("No consent was on record")
    # The one failed load is the refused note, which the form told in words above.
    assert pages.errors.pop("console") == ["Failed to load resource: the server responded with a status of 409 (Conflict)"]
    no_page_errors(pages)
