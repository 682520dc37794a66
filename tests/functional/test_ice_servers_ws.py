"""ice-servers over the real /ws: fresh TURN credentials to the asker only, waiting or in the call, limited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from typing import Any

from telepractice.config import Settings
from telepractice.sessions.invites import GRACE_AFTER_END
from telepractice.signaling import turn
from telepractice.signaling.ice_refresh import ICE_SERVERS_BURST
from tests.functional.test_signaling_ws import (
    TURN_SECRET,
    admitted_guardian,
    connector,
    everything_pending,
    receive_until,
    refused_with,
    schedule_family_session,
    staff_pair,
    started,
)

TURN_URL = "turn:turn.example.org:3478"


async def test_someone_in_the_call_gets_fresh_turn_credentials_that_coturn_would_accept(
    aiohttp_client: Any, settings: Settings
) -> None:
    with_turn = dataclasses.replace(settings, turn_secret=TURN_SECRET, turn_urls=(TURN_URL,),
                                    turn_lifetime_seconds=600)
    app, client = await started(aiohttp_client, with_turn)
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    connect = connector(client, with_turn)
    host = await connect(host_staff.access_token, family.session_id)
    await receive_until(host, "admitted")
    guardian = await admitted_guardian(connect, host, family)

    before = time.time()
    await guardian.send_json({"v": 1, "type": "ice-servers"})
    answer, _ = await receive_until(guardian, "ice-servers")
    [server] = answer["ice_servers"]
    expiry, who = server["username"].split(":", 1)
    assert who == family.guardian_id and int(expiry) == answer["expires_at"]
    assert int(before) + 599 <= answer["expires_at"] <= time.time() + 600
    assert server["urls"] == [TURN_URL] and server["credential"] == turn.credential(TURN_SECRET, server["username"])
    assert "ice-servers" not in [m["type"] for m in await everything_pending(host)]  # nobody else is sent it


async def test_someone_waiting_gets_turn_credentials_for_the_connection_test_cut_at_the_sessions_grace_end(
    aiohttp_client: Any, settings: Settings
) -> None:
    # A lifetime longer than the whole session: the cap at the session's grace end is what shows.
    with_turn = dataclasses.replace(settings, turn_secret=TURN_SECRET, turn_urls=(TURN_URL,),
                                    turn_lifetime_seconds=86400)
    app, client = await started(aiohttp_client, with_turn)
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    guardian = await connector(client, with_turn)(family.guardian_token)  # nobody has let them in
    welcome, _ = await receive_until(guardian, "welcome")
    await receive_until(guardian, "waiting")

    await guardian.send_json({"v": 1, "type": "ice-servers"})
    answer, _ = await receive_until(guardian, "ice-servers")
    [server] = answer["ice_servers"]
    grace_end = dt.datetime.fromisoformat(welcome["planned_end"]) + GRACE_AFTER_END
    assert answer["expires_at"] == math.floor(grace_end.timestamp())
    assert server["username"] == f"{answer['expires_at']}:{family.guardian_id}"
    assert server["urls"] == [TURN_URL] and server["credential"] == turn.credential(TURN_SECRET, server["username"])


async def test_ice_servers_share_one_allowance_from_the_waiting_room_into_the_call(
    aiohttp_client: Any, settings: Settings
) -> None:
    app, client = await started(aiohttp_client, settings)  # no TURN: the answer says so with an empty list
    host_staff, boss = await staff_pair(app, client)
    family = await schedule_family_session(app, host_staff.member, boss)
    connect = connector(client, settings)
    host = await connect(host_staff.access_token, family.session_id)
    await receive_until(host, "admitted")
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    await guardian.send_json({"v": 1, "type": "ice-servers"})  # the connection test, while waiting
    answer, _ = await receive_until(guardian, "ice-servers")
    assert (answer["ice_servers"], answer["expires_at"]) == ([], None)

    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    await receive_until(guardian, "admitted")
    for _ in range(ICE_SERVERS_BURST - 1):
        await guardian.send_json({"v": 1, "type": "ice-servers"})
        answer, _ = await receive_until(guardian, "ice-servers")
        assert (answer["ice_servers"], answer["expires_at"]) == ([], None)
    await guardian.send_json({"v": 1, "type": "ice-servers"})
    limited = await refused_with(guardian, "rate-limited")
    assert limited["refused"] == "ice-servers" and limited["retry_after"] > 0 and limited["closing"] is False
    await guardian.send_json({"v": 1, "type": "ping", "nonce": 3})  # still connected
    assert (await receive_until(guardian, "pong"))[0]["nonce"] == 3
