"""The worker's connection test (issue 6), in real Chromium against the real server: run while the worker is alone
in the call, said in words, kept as a staff test in the session record; stopped and never run again once
someone else is in the call, so it never competes with one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Page

from telepractice.testing import netns
from telepractice.testing.server import PreparedSession, stored_connection_tests
from tests.browser.conftest import WAIT_MS, Pages
from tests.browser.test_call import admit, family_path, no_page_errors, staff_path, video_playing

pytestmark = [pytest.mark.browser, pytest.mark.network]

TESTING_ALONE = "While nobody else is here, we are testing your connection…"
TEST_DONE = "() => window.telepractice?.connectionTest !== undefined"

READ_RECORD = """
async ([sessionId, token]) => {
  const response = await fetch(`/api/sessions/${sessionId}/record`, {headers: {Authorization: `Bearer ${token}`}});
  return {status: response.status, body: await response.json()};
}
"""


@pytest.fixture
def namespace(browser_platform: None) -> Iterator[netns.Namespace]:
    """Conftest's loopback-only namespace, plus an address the server's probe peer can offer.

    aioice never offers 127.0.0.1, so in a namespace with only ``lo`` the probe has no candidate and every test
    says "no connection". A TAP device that nothing reads holds 10.98.0.1/32: traffic to it is delivered locally,
    and nothing can leave the namespace through it.
    """
    with netns.namespace() as ns:
        ns.run([netns.IP, "tuntap", "add", "dev", "tpprobe0", "mode", "tap"])
        ns.run([netns.IP, "addr", "add", "10.98.0.1/32", "dev", "tpprobe0"])
        ns.run([netns.IP, "link", "set", "tpprobe0", "up"])
        yield ns


async def record_of(page: Page, prepared: PreparedSession) -> dict[str, Any]:
    """The session record once the session has ended (the record exists from then on)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        answer = await page.evaluate(READ_RECORD, [prepared.session_id, prepared.worker_token])
        if answer["status"] == 200:
            return answer["body"]
        assert time.monotonic() < deadline, f"no record in time; last answer {answer}"
        await page.wait_for_timeout(250)


async def test_the_worker_alone_in_the_call_tests_the_connection_and_the_record_keeps_it_as_theirs(
    pages: Pages, prepared: PreparedSession, server_env: dict[str, str]
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    note = worker.locator("#connection-test")
    await note.filter(has_text=TESTING_ALONE).wait_for()
    await worker.wait_for_function(TEST_DONE, timeout=2 * WAIT_MS)
    result = await worker.evaluate("() => window.telepractice.connectionTest")
    print(f"\nthe worker's test alone in the call: {result['verdict']}, {result['stats']}, route {result['route']}")
    assert (result["verdict"], result["stopped"], result["refused"]) == ("good", False, None), result
    assert await note.is_visible() and await note.text_content() == "Connection test: good."
    assert await stored_connection_tests(server_env, prepared.session_id) == [(prepared.worker_id, "staff", "good")]

    # Someone joins: the words make way for the call.
    family = await pages.open("ana", family_path(prepared, 0))
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await note.wait_for(state="hidden")
    # A new page of the worker's with someone in the call does not test: it would compete with the call.
    await worker.reload()
    await worker.wait_for_function("() => window.telepractice?.client?.state === 'joined'", timeout=WAIT_MS)
    await video_playing(worker, ana.participant_id)
    assert await worker.evaluate("() => window.telepractice.connectionTest === undefined")
    assert await note.is_hidden()

    await family.wait_for_function(TEST_DONE, timeout=2 * WAIT_MS)  # her waiting-room test, kept too
    await worker.locator("#end").click()
    await worker.locator("#controls").wait_for(state="hidden")
    no_page_errors(pages)  # before the record is asked for: it answers 404 until it is written, which the console logs
    record = await record_of(worker, prepared)
    staff_tests = [test for test in record["connection_tests"] if test["who_kind"] == "staff"]
    assert [(test["who"], test["verdict"]) for test in staff_tests] == [(prepared.worker_id, "good")], record


async def test_the_workers_test_stops_when_someone_joins_the_call_and_keeps_nothing(
    pages: Pages, prepared: PreparedSession, server_env: dict[str, str]
) -> None:
    ana = prepared.family[0]
    family = await pages.open("ana", family_path(prepared, 0))  # waiting before the worker arrives
    await family.wait_for_function("() => window.telepractice?.client?.you", timeout=WAIT_MS)
    worker = await pages.open("worker", staff_path(prepared))
    note = worker.locator("#connection-test")
    await note.filter(has_text=TESTING_ALONE).wait_for()  # alone in the call: someone waiting is not in it
    await admit(worker, ana.participant_id)
    await worker.wait_for_function(TEST_DONE, timeout=WAIT_MS)
    result = await worker.evaluate("() => window.telepractice.connectionTest")
    assert result["stopped"] is True, result
    await note.wait_for(state="hidden")
    await video_playing(worker, ana.participant_id)
    await family.wait_for_function(TEST_DONE, timeout=2 * WAIT_MS)
    assert [kind for _who, kind, _verdict in await stored_connection_tests(server_env, prepared.session_id)] == ["family"]
    no_page_errors(pages)
