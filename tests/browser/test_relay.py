"""Two Chromium pages whose media must go through TURN: the server's ice_servers, used by call.js, really work.

coturn runs inside the same loopback-only namespace as the browsers and the
server; both pages are told to use relay candidates only, so video can only
flow if the TURN credentials handed out in ``admitted`` are accepted.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from telepractice.testing import coturn, netns
from telepractice.testing.server import PreparedSession, server_environment
from tests.browser.conftest import WAIT_MS, Pages, skip_or_fail
from tests.browser.test_call import admit, family_path, no_page_errors, staff_path, video_playing

pytestmark = [pytest.mark.browser, pytest.mark.network]

TURN_PORT = 3478  # the namespace is new, so the usual port is free in it
TURN_SECRET = "browser-relay-test-" + "s" * 24
TURN_URL = f"turn:127.0.0.1:{TURN_PORT}?transport=udp"

_STUN_ANSWERS = textwrap.dedent("""
    import socket, sys, time
    from aioice import stun
    port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.1)
            probe.sendto(bytes(request), ("127.0.0.1", port))
            try:
                if stun.parse_message(probe.recv(2048)).transaction_id == request.transaction_id:
                    sys.exit(0)
            except (OSError, ValueError):
                time.sleep(0.05)
    sys.exit(1)
""")


@pytest.fixture
def turn_server(namespace: netns.Namespace, tmp_path: Path) -> Iterator[None]:
    """coturn inside the namespace, answering STUN there; stopped by its PID."""
    binary = coturn.turnserver_path()
    if binary is None:
        skip_or_fail("coturn is not installed (apt-get install coturn)")
        return
    directory = tmp_path / "coturn"
    directory.mkdir()
    with (directory / "turnserver.out").open("wb") as out:
        process = namespace.popen(coturn.command(binary, directory, TURN_PORT, TURN_SECRET, 49152),
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        namespace.run([sys.executable, "-c", _STUN_ANSWERS, str(TURN_PORT), "10"], timeout=20)
        yield
    finally:
        coturn.stop(process)


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path / "data", turn_secret=TURN_SECRET, turn_urls=TURN_URL)


RELAY_ONLY = "() => { window.telepractice.call.configuration = {iceTransportPolicy: 'relay'}; }"

SELECTED_PAIR = """
async (peer) => {
  const pc = window.telepractice.call.peers.get(peer).pc;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  return {
    local: pair && stats.get(pair.localCandidateId).candidateType,
    remote: pair && stats.get(pair.remoteCandidateId).candidateType,
    servers: pc.getConfiguration().iceServers.flatMap((server) => server.urls),
  };
}
"""


async def test_video_flows_through_turn_with_the_credentials_the_server_hands_out(
    turn_server: None, pages: Pages, prepared: PreparedSession
) -> None:
    ana = prepared.family[0]
    worker = await pages.open("worker", staff_path(prepared))
    family = await pages.open("family", family_path(prepared, 0))
    for page in (worker, family):
        await page.wait_for_function("() => window.telepractice?.call", timeout=WAIT_MS)
        await page.evaluate(RELAY_ONLY)
    await admit(worker, ana.participant_id)
    await video_playing(worker, ana.participant_id)
    await video_playing(family, prepared.worker_id)

    pair = await worker.evaluate(SELECTED_PAIR, ana.participant_id)
    assert pair["servers"] == [TURN_URL]
    assert pair["local"] == "relay" and pair["remote"] == "relay"
    no_page_errors(pages)
