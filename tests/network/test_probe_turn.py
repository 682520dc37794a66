"""The connection test where only TURN gets through: a real coturn, a real firewall, the real call page.

    server namespace (10.99.0.1)            the server, its aiortc probe peer
      ├─ link ≈ browser namespace (10.99.0.10)     Chromium; the link drops all UDP not to or from coturn's port
      └─ link ≈ TURN namespace (10.99.0.11)        coturn, refusing, as production must, to relay to 10/8
                                                   (except its own relay address, as docs/coturn.md says for NAT)

The browser cannot reach the probe peer directly (UDP is dropped) and coturn
will not relay to the server's private address, so the only path is relay to
relay: the browser's allocation to the probe peer's own. The family member's
page asks for ICE servers while waiting, tests, and keeps the result; a
worker's page alone in the call does the same. Every wait is bounded; coturn,
the server and the link emulators are stopped by PID.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from telepractice.testing import coturn as coturn_process
from telepractice.testing import shaped_link
from telepractice.testing.netns import NamespaceError
from telepractice.testing.server import (
    PreparedSession,
    RunningServer,
    server_environment,
    stored_connection_tests,
)
from telepractice.testing.shaped_link import ShapedNetwork
from tests.network import shaped_browsers

pytestmark = pytest.mark.network

WAIT_MS = 40_000
ORIGIN = shaped_browsers.ORIGIN
TURN_PORT = 3478
RELAY_MIN_PORT = 49152
ONLY_TURN = shaped_link.Shape(udp_only_ports=(TURN_PORT,))
BROWSER, TURN_HOST = 0, 1  # the client namespaces of the shaped network

# Answers once coturn answers a STUN Binding request at ADDRESS:PORT (run inside coturn's namespace).
_ANSWERS_STUN = textwrap.dedent("""
    import socket, sys
    from aioice import stun
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(bytes(request), (sys.argv[1], int(sys.argv[2])))
        answer = stun.parse_message(probe.recv(2048))
    sys.exit(0 if answer.transaction_id == request.transaction_id else 1)
""")

# A connection test from the page without any ICE server: what the page did before it asked for TURN.
DIRECT_ONLY_TEST = """
async (token) => {
  const { runConnectionTest } = await import('/static/js/connection-test.js');
  return await runConnectionTest({ origin: location.origin, token, seconds: 2, iceServers: [] });
}
"""


@pytest.fixture(scope="module")
def platform() -> None:
    reason = shaped_browsers.unavailable_reason()
    if reason is None and coturn_process.turnserver_path() is None:
        reason = f"coturn is not installed ({coturn_process.TURNSERVER} missing; apt-get install coturn)"
    if reason is not None:
        shaped_browsers.skip_or_fail("TURN connection-test tests", reason)


@pytest.fixture
def network(platform: None) -> Iterator[ShapedNetwork]:
    with shaped_link.shaped_network(2) as made:
        yield made


def turn_address(network: ShapedNetwork) -> str:
    return network.clients[TURN_HOST].address


def coturn_command(directory: Path, secret: str, address: str) -> list[str]:
    """coturn.py's test command moved onto ``address``, with production's refusal of private peers.

    Loopback peers are not allowed here, and all of 10/8 is denied (the server's address included) but
    coturn's own relay address, which both ends' allocations need to reach each other.
    """
    binary = coturn_process.turnserver_path()
    assert binary is not None
    loopback = coturn_process.HOST
    moved = {f"--listening-ip={loopback}": f"--listening-ip={address}",
             f"--relay-ip={loopback}": f"--relay-ip={address}"}
    command = coturn_process.command(binary, directory, TURN_PORT, secret, RELAY_MIN_PORT)
    return [moved.get(arg, arg) for arg in command if arg != "--allow-loopback-peers"] + [
        "--denied-peer-ip=10.0.0.0-10.255.255.255", f"--allowed-peer-ip={address}"]


@pytest.fixture
def coturn(network: ShapedNetwork, tmp_path: Path) -> Iterator[coturn_process.Coturn]:
    """coturn inside the TURN namespace, answering STUN before the test starts; stopped by its PID."""
    directory = tmp_path / "coturn"
    directory.mkdir()
    address, ns = turn_address(network), network.clients[TURN_HOST].ns
    secret = secrets.token_hex(32)
    with open(directory / "turnserver.out", "wb") as out:
        process = ns.popen(coturn_command(directory, secret, address), stdin=subprocess.DEVNULL, stdout=out,
                           stderr=subprocess.STDOUT)
    server = coturn_process.Coturn(pid=process.pid, port=TURN_PORT, secret=secret,
                                   log_path=directory / "turnserver.log", host=address)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                ns.run([sys.executable, "-c", _ANSWERS_STUN, address, str(TURN_PORT)], timeout=5)
                break
            except NamespaceError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"coturn did not answer at {address}:{TURN_PORT}: {error}\n"
                                         f"{server.log()[-2000:]}") from None
                time.sleep(0.1)
        yield server
    finally:
        coturn_process.stop(process)


@pytest.fixture
def server_env(tmp_path: Path, network: ShapedNetwork, coturn: coturn_process.Coturn) -> dict[str, str]:
    return server_environment(tmp_path / "data", host="0.0.0.0", public_origin=ORIGIN, turn_secret=coturn.secret,
                              turn_urls=coturn.turn_url, turn_lifetime_seconds="600")


@pytest.fixture
async def browser(network: ShapedNetwork, server: RunningServer, tmp_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await shaped_browsers.launch(playwright, network.clients[BROWSER].ns, tmp_path / "bin", WAIT_MS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Browser, path: str) -> Page:
    return await shaped_browsers.open_page(browser, path, WAIT_MS)


async def test_the_waiting_room_test_gets_through_turn_alone_relay_to_relay_with_the_probe_peer(
    network: ShapedNetwork, browser: Browser, prepared: PreparedSession, server: RunningServer,
    server_env: dict[str, str], coturn: coturn_process.Coturn,
) -> None:
    family = prepared.family[0]
    network.apply(network.clients[BROWSER], ONLY_TURN)
    page = await open_page(browser, f"/call#invite={family.join_token}")  # nobody lets her in: she waits
    started = time.monotonic()
    await page.wait_for_function("() => window.telepractice?.connectionTest", timeout=WAIT_MS)
    took = time.monotonic() - started
    result: dict[str, Any] = await page.evaluate("() => window.telepractice.connectionTest")
    note = await page.locator("#connection-test").text_content()
    print(f"\nwaiting-room test through TURN only: {result['verdict']} over {result['route']} "
          f"({took:.1f} s from page load), {result['stats']}")
    assert result["verdict"] == "good", (result, server.log()[-3000:])
    assert result["route"] == {"local": "relay", "remote": "relay"}, result
    assert note and "good" in note
    assert await stored_connection_tests(server_env, prepared.session_id) == [(family.participant_id, "family", "good")]
    log = coturn.log()
    # Both ends allocated on coturn: the page with the credential of her ice-servers answer, the probe with its own.
    assert f":{family.participant_id}>: incoming packet ALLOCATE processed, success" in log, log[-3000:]
    assert f":probe-{result['probe']}>: incoming packet ALLOCATE processed, success" in log, log[-3000:]
    refused = log.count("denied in the range: 10.0.0.0-10.255.255.255")
    print(f"coturn refused {refused} permissions to the 10/8 addresses (the server's and the browser's)")

    # The same page without ICE servers, as before it asked for TURN: the link leaves it no path at all.
    direct: dict[str, Any] = await asyncio.wait_for(page.evaluate(DIRECT_ONLY_TEST, family.join_token), timeout=60)
    print(f"the same test without TURN: {direct['verdict']}, route {direct['route']}")
    assert direct["verdict"] == "no-connection" and direct["route"] is None, direct


async def test_a_worker_alone_behind_a_slow_turn_only_link_is_told_audio_only_and_starts_the_call_so(
    network: ShapedNetwork, browser: Browser, prepared: PreparedSession, server: RunningServer,
    server_env: dict[str, str],
) -> None:
    # 250 ms each way (a congested mobile link) makes a 500 ms round trip: past the 400 ms at which
    # conversation over video turns stilted, with nothing lost. A rate cap instead left the verdict to
    # how much of the test's own video the queue dropped, which drifted across the no-connection line.
    network.apply(network.clients[BROWSER], shaped_link.Shape(delay_ms=250, udp_only_ports=(TURN_PORT,)))
    page = await open_page(browser, f"/call#staff={prepared.worker_token}&session={prepared.session_id}")
    await page.wait_for_function("() => window.telepractice?.connectionTest", timeout=WAIT_MS)
    result: dict[str, Any] = await page.evaluate("() => window.telepractice.connectionTest")
    note = await page.locator("#connection-test").text_content()
    print(f"\nthe worker's test alone, TURN only, 250 ms each way: {result['verdict']} over {result['route']}, "
          f"{result['stats']}")
    assert result["verdict"] == "audio-only" and result["route"] == {"local": "relay", "remote": "relay"}, result
    assert result["stats"]["rttMs"] >= 450, result  # about the link's 500 ms, so the verdict is the link's
    assert note and "audio only" in note
    assert await page.evaluate("() => window.telepractice.quality.audioOnly")  # the call will start without video
    assert await stored_connection_tests(server_env, prepared.session_id) == [(prepared.worker_id, "staff", "audio-only")]
