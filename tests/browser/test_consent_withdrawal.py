"""A family member withdraws their consent in the middle of a call, from the call page itself (real Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest
from telepractice.storage.models import ConsentRecord
from telepractice.testing.server import PreparedSession, RunningServer
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.page_checks import axe_violations
from tests.browser.test_call import admit, family_path, screenshot, staff_path
from tests.browser.test_family_path import database_rows

pytestmark = [pytest.mark.browser, pytest.mark.network]


async def test_a_family_member_withdraws_consent_mid_call_leaves_at_once_and_the_link_stops_working(
    pages: Pages, prepared: PreparedSession, server: RunningServer, server_env: dict[str, str], output_dir: Path
) -> None:
    ana, rui = prepared.family[:2]
    worker = await pages.open("worker", staff_path(prepared))
    first = await pages.open("ana", family_path(prepared, 0))
    second = await pages.open("rui", family_path(prepared, 1))
    await admit(worker, ana.participant_id)
    await admit(worker, rui.participant_id)
    for page in (first, second):
        await page.wait_for_function("() => window.telepractice?.client?.state === 'joined'", timeout=WAIT_MS)
    await worker.locator(f'.tile[data-key="{ana.participant_id}"]').wait_for()

    # The control sits in the "who is here" panel, not among the large call controls; the worker has none.
    await first.locator("#people-toggle").click()
    withdraw = first.locator("#withdraw")
    await withdraw.wait_for(state="visible")
    await worker.locator("#people-toggle").click()
    assert await worker.locator("#my-consent").is_hidden()

    # Changing one's mind in the dialog changes nothing.
    await withdraw.click()
    dialog = first.locator("#withdraw-dialog")
    await dialog.wait_for(state="visible")
    await screenshot(first, output_dir, "withdraw-dialog")
    assert await axe_violations(first) == []
    await first.locator("#withdraw-cancel").click()
    await dialog.wait_for(state="hidden")
    assert [record.withdrawn_at for record in await database_rows(server_env, ConsentRecord, ana.participant_id)] == [None]

    await withdraw.click()
    await first.locator("#withdraw-confirm").click()
    await first.locator("#status").filter(has_text="withdrawn").wait_for()
    assert await first.locator("#controls").is_hidden()
    assert await first.locator("#evaluation").is_hidden()  # nothing more is asked of someone who withdrew
    await screenshot(first, output_dir, "withdraw-done")

    # At once for the others: Ana's tile goes from the worker's page and from Rui's.
    for page in (worker, second):
        await page.locator(f'.tile[data-key="{ana.participant_id}"]').wait_for(state="detached")
    # The record keeps the consent and its withdrawal, by Ana herself.
    [record] = await database_rows(server_env, ConsentRecord, ana.participant_id)
    assert record.withdrawn_at is not None

    # The same link no longer opens the call.
    again = await pages.open("ana-again", family_path(prepared, 0))
    await again.locator("#status").filter(has_text="does not work").wait_for()
    assert await again.evaluate("() => window.telepractice?.client?.state") != "joined"
    # Rui is still in the call.
    assert await second.evaluate("() => window.telepractice.client.state") == "joined"
