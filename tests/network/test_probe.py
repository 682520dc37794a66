"""The connection-test peer for real: aiortc on both ends over 127.0.0.1, the app in this process.

Every ICE host candidate is 127.0.0.1 (telepractice/testing/loopback.py) and no
ICE server is configured, so no packet leaves loopback.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from telepractice.app import create_app
from telepractice.appkeys import DB, PROBES
from telepractice.config import load_settings
from telepractice.sessions.connection_tests import connection_tests_of
from telepractice.signaling.probe import ProbeLimits
from telepractice.testing.held_port import held_port_socket, port_of, in_process_server
from telepractice.testing.loopback import loopback_only
from telepractice.testing.probe_client import post_offer, run_probe
from telepractice.testing.server import PreparedSession, prepare_family_session

pytestmark = pytest.mark.network

PROBE_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Server:
    origin: str
    app: web.Application
    prepared: PreparedSession


@pytest.fixture(autouse=True)
def loopback() -> Iterator[None]:
    with loopback_only():
        yield


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    sock = held_port_socket()
    settings = load_settings({}, {"data_dir": str(tmp_path), "host": "127.0.0.1", "port": port_of(sock),
                                  "behind_proxy": True, "access_token_minutes": 60, "probe_max_concurrent": 2})
    prepared = await prepare_family_session(settings)
    test_server = in_process_server(create_app(settings), sock)
    await test_server.start_server()
    try:
        yield Server(settings.public_origin, test_server.app, prepared)
    finally:
        await test_server.close()


async def post_result(server: Server, token: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{server.origin}/api/probe/result", json=body,
                                   headers={"Authorization": f"Bearer {token}"})
        return response.status, await response.json()


async def test_family_member_tests_the_connection_and_the_result_is_kept_with_the_session(server: Server) -> None:
    mother = server.prepared.family[0]
    run = await run_probe(server.origin, mother.join_token, seconds=PROBE_SECONDS)
    assert run.status == 200, run.body
    assert run.connected and run.frames_back >= 5, run
    assert run.rtt_ms is not None and run.rtt_ms < 200, run.rtts_ms
    assert "b=AS:600" in str(run.body["sdp"]) and run.body["max_seconds"] == 20.0
    status, stored = await post_result(server, mother.join_token, {
        "probe": run.body["probe"], "verdict": "good", "rtt_ms": round(run.rtt_ms), "loss_permille": 0,
        "jitter_ms": 3, "kbps": 250})
    assert status == 201, stored
    rows = await connection_tests_of(server.app[DB], server.prepared.session_id)
    assert [(r.participant_id, r.verdict, r.loss_permille) for r in rows] == [(mother.participant_id, "good", 0)]


async def test_staff_test_naming_their_session(server: Server) -> None:
    run = await run_probe(server.origin, server.prepared.worker_token, seconds=1.0, session=server.prepared.session_id)
    assert run.status == 200 and run.connected, run.body


async def test_no_token_or_a_forged_one_is_refused(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{server.origin}/api/probe", json={"sdp": "v=0"})
        assert response.status == 401
    status, body = await post_offer(server.origin, "not-a-token", "v=0")
    assert status == 401 and body["code"] == "not-authenticated"


async def test_a_test_beyond_the_concurrency_limit_is_refused_with_429(server: Server) -> None:
    first, second = server.prepared.family[0], server.prepared.family[1]
    running = [asyncio.create_task(run_probe(server.origin, person.join_token, seconds=2.0))
               for person in (first, second)]
    await asyncio.sleep(1.0)
    assert server.app[PROBES].running == 2
    status, body = await post_offer(server.origin, server.prepared.worker_token, "v=0",
                                    session=server.prepared.session_id)
    assert status == 429 and body["code"] == "probe-busy", body
    assert all(run.status == 200 for run in await asyncio.gather(*running))


async def test_one_person_testing_too_often_is_refused_with_429(server: Server) -> None:
    server.app[PROBES].limits = ProbeLimits(per_person=2)
    mother = server.prepared.family[0]
    for _ in range(2):
        assert (await run_probe(server.origin, mother.join_token, seconds=0.3)).status == 200
    run = await run_probe(server.origin, mother.join_token, seconds=0.3)
    assert run.status == 429 and run.body["code"] == "probe-rate-limited", run.body
    # Someone else is not held back by it.
    assert (await run_probe(server.origin, server.prepared.family[1].join_token, seconds=0.3)).status == 200


async def test_the_server_closes_a_test_at_its_longest_duration(server: Server) -> None:
    server.app[PROBES].limits = ProbeLimits(max_seconds=1.0)
    run = asyncio.create_task(run_probe(server.origin, server.prepared.family[0].join_token, seconds=3.0))
    await asyncio.sleep(0.6)
    assert server.app[PROBES].running == 1
    await asyncio.sleep(1.0)
    assert server.app[PROBES].running == 0
    done = await run
    assert done.connected
    # The data channel closed with the server's end: pings (every 0.2 s) stopped well before the 3 s were up.
    assert done.pings_sent <= 8, done.pings_sent


async def test_a_result_names_a_test_of_the_same_person(server: Server) -> None:
    mother, father = server.prepared.family[0], server.prepared.family[1]
    run = await run_probe(server.origin, mother.join_token, seconds=0.5)
    status, body = await post_result(server, father.join_token, {"probe": run.body["probe"], "verdict": "good"})
    assert status == 404, body
    status, body = await post_result(server, mother.join_token, {"probe": run.body["probe"], "verdict": "excellent"})
    assert status == 422, body


async def test_shutdown_closes_every_probe_peer(tmp_path: Path) -> None:
    sock = held_port_socket()
    settings = load_settings({}, {"data_dir": str(tmp_path), "host": "127.0.0.1", "port": port_of(sock),
                                  "behind_proxy": True})
    prepared = await prepare_family_session(settings)
    test_server = in_process_server(create_app(settings), sock)
    await test_server.start_server()
    run = asyncio.create_task(run_probe(settings.public_origin, prepared.family[0].join_token, seconds=2.0))
    await asyncio.sleep(1.0)
    probes = test_server.app[PROBES]
    assert probes.running == 1
    await test_server.close()
    assert probes.running == 0
    await run
