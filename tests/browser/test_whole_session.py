"""A whole session, as issue 5's first test asks: link to goodbye for the family, admission and end for the worker.

Real Chromium pages against the real server in a loopback-only namespace:
the worker logs into the console and opens the session's call from the case;
the family member opens her personal link on a phone in Portuguese, chooses
her language, gives consent, sees herself in the preview, waits; the worker
admits her, they talk, the worker ends the session; she answers the
evaluation and sees the goodbye page. The session record in the console then
shows both people's minutes and her answers (and so does the record's API).
Every request of every page stays on the server's origin.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from sqlalchemy import update

from telepractice.auth.passwords import hash_password
from telepractice.storage.engine import make_engine
from telepractice.storage.models import StaffMember
from telepractice.testing.server import PreparedSession, prepare_family_session, settings_for
from tests.browser.conftest import WAIT_MS
from tests.browser.page_checks import CheckedPages, Language, Size, screenshot_path
from tests.browser.test_call import admit, record_figures, video_playing
from tests.browser.test_every_page import log_in, view

pytestmark = [pytest.mark.browser, pytest.mark.network]

TALK_SECONDS = 8  # the record counts tenths of a minute: 8 s in the call is at least 0.1 min each

# The worker's page reads the record as the console does: the staff token in the Authorization header.
READ_RECORD = """
async ([sessionId, token]) => {
  const response = await fetch(`/api/sessions/${sessionId}/record`, {headers: {Authorization: `Bearer ${token}`}});
  return {status: response.status, body: await response.json()};
}
"""


WORKER_PASSWORD = secrets.token_urlsafe(15)


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    """Conftest's family session (Bia without consent), and a password the test knows for its worker's login."""
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


async def step(page: Page, name: str) -> None:
    await page.locator(f'main#step[data-step="{name}"]').wait_for()


# The family member on a phone in Portuguese, the worker at a desktop in English.
FAMILY: tuple[Language, Size] = ("pt", "phone")
WORKER: tuple[Language, Size] = ("en", "desktop")


async def shot(page: Page, output_dir: Path, state: str, who: tuple[Language, Size]) -> None:
    await page.screenshot(path=str(screenshot_path(output_dir, "whole-session", state, *who)), full_page=True)


async def record_when_complete(worker: Page, prepared: PreparedSession) -> dict[str, Any]:
    """The session record once it exists and holds the evaluation (it is built at the end, answers join it later)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        answer = await worker.evaluate(READ_RECORD, [prepared.session_id, prepared.worker_token])
        if answer["status"] == 200 and answer["body"]["evaluation_answers"]:
            return answer["body"]
        assert time.monotonic() < deadline, f"no complete record in time; last answer {answer}"
        await asyncio.sleep(0.25)


async def test_a_family_member_goes_from_her_link_to_goodbye_and_the_record_shows_both_peoples_minutes(
    checked_pages: CheckedPages, prepared: PreparedSession, output_dir: Path
) -> None:
    bia = prepared.family[2]  # her consent is not on record yet: she gives it on the way in
    console = await checked_pages.open("console", "/console", language=WORKER[0], size=WORKER[1])
    await log_in(console, "test.worker", WORKER_PASSWORD)
    await view(console, 'a[data-case="BROWSER-0001"]')
    await console.locator('a[data-case="BROWSER-0001"]').click()
    card = console.locator(f'article.session-card[data-session="{prepared.session_id}"]')
    await view(console, f'article.session-card[data-session="{prepared.session_id}"]')
    await shot(console, output_dir, "0-console-case", WORKER)
    async with console.context.expect_page() as opened:
        await card.locator('[data-action="call"]').click()
    worker = await opened.value
    checked_pages.adopt("worker", worker)
    await worker.wait_for_load_state()

    family = await checked_pages.open("bia", f"/join#invite={bia.join_token}", language=FAMILY[0], size=FAMILY[1])
    assert "#" not in family.url, "the token must leave the address bar"

    await step(family, "language")
    await shot(family, output_dir, "1-language", FAMILY)
    await family.locator('main#step[data-step="language"] button[data-language="pt"]').click()

    await step(family, "consent")
    assert await family.evaluate("() => document.documentElement.lang") == "pt"
    await family.locator(".consent-text").wait_for()
    await shot(family, output_dir, "2-consent", FAMILY)
    await family.locator("#agree").click()

    await step(family, "preview")
    join = family.locator("#join")
    await family.wait_for_function("() => document.querySelector('#join') && !document.querySelector('#join').disabled",
                                   timeout=WAIT_MS)
    await family.wait_for_function("() => [...document.querySelectorAll('main#step video')]"
                                   ".some((v) => v.videoWidth > 0 && !v.paused)", timeout=WAIT_MS)
    await shot(family, output_dir, "3-preview", FAMILY)
    await join.click()

    await family.wait_for_url("**/call")
    admit_button = worker.locator(f'#waiting-list [data-participant="{bia.participant_id}"] button.admit')
    await admit_button.wait_for()
    await worker.wait_for_function(
        "(id) => !document.querySelector(`#waiting-list [data-participant=\"${id}\"] button.admit`).disabled",
        arg=bia.participant_id, timeout=WAIT_MS)
    await family.wait_for_function("() => window.telepractice?.client.state === 'joined'"
                                   " && document.querySelector('#controls')", timeout=WAIT_MS)
    await shot(family, output_dir, "4-waiting", FAMILY)
    await shot(worker, output_dir, "4-someone-waiting", WORKER)

    admitted = time.monotonic()
    await admit(worker, bia.participant_id)
    await video_playing(worker, bia.participant_id)
    await video_playing(family, prepared.worker_id)
    playing = time.monotonic()
    await shot(family, output_dir, "5-in-call", FAMILY)
    await shot(worker, output_dir, "5-in-call", WORKER)
    await asyncio.sleep(max(0.0, TALK_SECONDS - (time.monotonic() - admitted)))

    # The waiting room's connection test posts its result when done; a session ended before then would refuse it.
    await family.wait_for_function("() => window.telepractice.connectionTest !== undefined", timeout=WAIT_MS)
    await worker.locator("#end").click()
    form = family.locator("#evaluation form")
    await form.wait_for()
    await shot(family, output_dir, "6-evaluation", FAMILY)
    await form.locator('input[name="usefulness"][value="4"]').check()
    await form.locator('input[name="comfort"][value="5"]').check()
    await form.locator("textarea").fill("Ajudou-me a perceber os próximos passos.")
    await form.locator('button[type="submit"]').click()

    await family.wait_for_url("**/goodbye")
    await step(family, "goodbye")
    assert await family.evaluate("() => document.documentElement.lang") == "pt"
    await shot(family, output_dir, "7-goodbye", FAMILY)

    record = await record_when_complete(console, prepared)
    minutes = {person["id"]: person["joined_minutes"] for person in record["participants"]}
    attended = {person["id"]: person["attendance"] for person in record["participants"]}
    assert minutes[prepared.worker_id] > 0 and minutes[bia.participant_id] > 0, minutes
    assert (attended[prepared.worker_id], attended[bia.participant_id]) == ("attended", "attended"), attended
    assert record["duration_minutes"] > 0
    [answer] = record["evaluation_answers"]
    assert (answer["participant_id"], answer["usefulness"], answer["comfort"], answer["language"]) == (
        bia.participant_id, 4, 5, "pt")
    assert answer["comment"] == "Ajudou-me a perceber os próximos passos."

    # What the worker reads: the record's view in the console, as a person opens it.
    await console.goto(f"{checked_pages.server.origin}/console#/record/{prepared.session_id}")
    await view(console, f'[data-minutes="{bia.participant_id}"]')
    shown = {who: float(await console.locator(f'[data-minutes="{who}"]').inner_text())
             for who in (prepared.worker_id, bia.participant_id)}
    assert shown == {prepared.worker_id: minutes[prepared.worker_id], bia.participant_id: minutes[bia.participant_id]}
    evaluation = console.locator('section[aria-labelledby="evaluation-title"]')
    for text in ("Bia Test", "4/5", "5/5", "Ajudou-me a perceber os próximos passos."):
        await evaluation.filter(has_text=text).wait_for()
    await shot(console, output_dir, "8-console-record", WORKER)

    assert checked_pages.requests.foreign(checked_pages.server.origin) == []
    assert checked_pages.page_errors() == {}
    record_figures(output_dir, "whole_session", {
        "admit_click_to_video_both_s": playing - admitted,
        "worker_joined_minutes": minutes[prepared.worker_id],
        "family_joined_minutes": minutes[bia.participant_id],
    })
