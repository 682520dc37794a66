"""What the shaped-network tests (test_degraded, test_probe_turn) share: the session and the server.

Each of those modules gives its own ``network`` (the namespaces and links) and
``server_env`` (with or without TURN); the session prepared in that server's
database and the server started in the network's server namespace are the same
for both. Modules that run their own server (test_probe, test_aiortc_call)
define their own ``server``, which takes precedence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from telepractice.testing.server import (
    PreparedSession,
    RunningServer,
    prepare_family_session,
    settings_for,
    start_server,
)
from telepractice.testing.shaped_link import ShapedNetwork


@pytest.fixture
async def prepared(server_env: dict[str, str]) -> PreparedSession:
    return await prepare_family_session(settings_for(server_env), ("Ana Test",))


@pytest.fixture
def server(network: ShapedNetwork, server_env: dict[str, str], prepared: PreparedSession,
           tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(network.server, server_env, tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()
