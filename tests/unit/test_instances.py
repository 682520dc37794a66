"""Two signalling services on one in-process bus: what one decides reaches the rooms the other holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from telepractice.signaling.bus import InProcessBus
from telepractice.signaling.errors import CloseCode
from telepractice.signaling.identity import Admission
from telepractice.signaling.instances import CONTROL_CHANNEL, Instances
from telepractice.signaling.messages import parse
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.service import SignalingService
from tests.unit.test_room import FakePeer

ROOM = "room-1"
LATER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class Deployment:
    """Instance A holds the room; instance B only hears and tells."""

    def __init__(self) -> None:
        bus = InProcessBus()
        self.a = SignalingService(None, bus=bus)  # type: ignore[arg-type]  # no hello arrives here
        self.b = SignalingService(None, bus=bus)  # type: ignore[arg-type]
        self.recorded: list[tuple[str, str | None, str | None]] = []

        async def record(room_id: str, events: list[Any]) -> None:
            self.recorded.extend((str(e.kind), e.participant_id, e.reason) for e in events)

        self.a.on_events = record

    async def start(self) -> None:
        await self.a.instances.start()
        await self.b.instances.start()

    def join(self, pid: str, role: Role, invite: str | None = None, consent: bool = True) -> FakePeer:
        peer = FakePeer(pid)
        room = self.a.registry.room(ROOM, self.a.now())
        admission = Admission(Identity(pid, ROOM, role, pid.title(), consent_ok=consent), LATER, invite)
        room.connect(admission.identity, peer, self.a.now())
        self.a.admitted_on(room, admission)
        return peer

    async def family_in_call(self) -> tuple[FakePeer, FakePeer]:
        host = self.join("host", Role.HOST)
        mum = self.join("mum", Role.FAMILY, invite="invite-2")
        room = self.a.registry.get(ROOM)
        assert room is not None
        room.receive(host, parse('{"v":1,"type":"admit","participant":"mum"}'), self.a.now())
        await self.a.report(room)
        return host, mum


@pytest.fixture
async def deployment() -> Deployment:
    found = Deployment()
    await found.start()
    return found


async def test_a_link_revoked_on_one_instance_removes_the_person_from_a_room_on_another(deployment: Deployment) -> None:
    host, mum = await deployment.family_in_call()
    await deployment.b.invite_revoked(ROOM, "mum", "invite-2")
    await deployment.a.instances.settled()
    assert mum.last("removed")["reason"] == "link-revoked" and mum.closed == (CloseCode.REMOVED, "link-revoked")
    assert host.last("presence")["reason"] == "link-revoked"
    assert deployment.recorded[-1] == ("left", "mum", "link-revoked")


async def test_an_older_link_revoked_elsewhere_leaves_someone_on_a_newer_one(deployment: Deployment) -> None:
    _host, mum = await deployment.family_in_call()
    await deployment.b.invite_revoked(ROOM, "mum", "invite-1")
    await deployment.a.instances.settled()
    assert mum.closed is None and not mum.of("removed")


async def test_consent_withdrawn_and_a_session_cancelled_elsewhere_reach_the_room(deployment: Deployment) -> None:
    host, mum = await deployment.family_in_call()
    await deployment.b.consent_changed(ROOM, "mum", False)
    await deployment.a.instances.settled()
    assert mum.closed == (CloseCode.REMOVED, "consent-withdrawn")
    await deployment.b.end_session(ROOM)
    await deployment.a.instances.settled()
    assert host.closed == (CloseCode.SESSION_ENDED, "session-ended")


async def test_an_instance_does_not_act_twice_on_its_own_notice() -> None:
    bus = InProcessBus()
    heard: list[str] = []

    async def act(notice: Any) -> None:
        heard.append(notice["room"])

    mine, theirs = Instances(bus, {"session-ended": act}), Instances(bus, {"session-ended": act})
    await mine.start()
    await theirs.start()
    await mine.tell("session-ended", room="r-1")
    await mine.settled()
    await theirs.settled()
    assert heard == ["r-1"]  # only the other instance acted
    with pytest.raises(ValueError, match="no instance acts"):
        await mine.tell("reboot", room="r-1")
    await bus.publish(CONTROL_CHANNEL, {"kind": "unknown", "from": "elsewhere"})  # ignored, logged
    await mine.close()
    await theirs.close()
