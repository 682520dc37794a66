"""Two PeerLinks over an in-memory wire on 127.0.0.1: glare, and candidates trickled in as browsers send them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiortc import RTCConfiguration

from telepractice.client_peer import MediaOptions, PeerLink
from telepractice.testing.loopback import loopback_only

pytestmark = pytest.mark.network

TIMEOUT = 10.0
Rewrite = Callable[[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def loopback() -> Iterator[None]:
    with loopback_only():
        yield


class Wire:
    """Relays what one link sends to the other, as the server would (adding ``from``), through ``rewrite``."""

    def __init__(self, rewrite: Rewrite = lambda message: [message]) -> None:
        self.links: dict[str, PeerLink] = {}
        self.sent: list[dict[str, Any]] = []
        self.rewrite = rewrite
        self.changed = asyncio.Event()

    def sender(self, sender_id: str) -> Callable[[dict[str, Any]], None]:
        def send(message: dict[str, Any]) -> None:
            self.sent.append(message)
            for relayed in self.rewrite({**message, "from": sender_id}):
                target = self.links[relayed["to"]]
                if relayed["type"] == "candidate":
                    target.receive_candidate(relayed)
                else:
                    target.receive_description(relayed["type"], relayed["sdp"])

        return send

    def link(self, self_id: str, remote_id: str) -> PeerLink:
        link = PeerLink(remote_id, self_id, RTCConfiguration(iceServers=[]), MediaOptions(),
                        self.sender(self_id), self.changed.set)
        self.links[self_id] = link
        return link


@pytest.fixture
async def links() -> AsyncIterator[list[PeerLink]]:
    made: list[PeerLink] = []
    yield made
    for link in made:
        await link.close()


async def until_frames_both_ways(a: PeerLink, b: PeerLink) -> None:
    async def both() -> None:
        while a.frames() < 3 or b.frames() < 3:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(both(), TIMEOUT)
    assert a.safety_code is not None and a.safety_code == b.safety_code


async def test_in_a_glare_the_offer_of_the_id_sorting_first_wins(links: list[PeerLink]) -> None:
    wire = Wire()
    anna, bruno = wire.link("anna", "bruno"), wire.link("bruno", "anna")
    links += [anna, bruno]
    assert not anna.polite and bruno.polite
    anna.offer()
    bruno.offer()  # both call at once, as two participants who both moved into a side room might

    await until_frames_both_ways(anna, bruno)
    offers = [m["to"] for m in wire.sent if m["type"] == "offer"]
    answers = [m["to"] for m in wire.sent if m["type"] == "answer"]
    assert sorted(offers) == ["anna", "bruno"] and answers == ["anna"]
    for message in wire.sent:
        if message["type"] in ("offer", "answer"):
            algorithms = {line.split()[0] for line in message["sdp"].splitlines() if line.startswith("a=fingerprint:")}
            assert algorithms == {"a=fingerprint:sha-256"}, "only the fingerprint browsers keep, for the safety code"
    assert not anna.errors and not bruno.errors


def trickled(message: dict[str, Any]) -> list[dict[str, Any]]:
    """An offer as a browser sends it: the SDP without candidates, then each as a candidate message, then the end."""
    if message["type"] != "offer":
        return [message]
    kept, candidates, index, mid = [], [], -1, None
    for line in message["sdp"].split("\r\n"):
        if line.startswith("m="):
            index, mid = index + 1, None
        elif line.startswith("a=mid:"):
            mid = line.removeprefix("a=mid:")
        if line.startswith("a=candidate:"):
            candidates.append((line.removeprefix("a="), mid, index))
        elif not line.startswith("a=end-of-candidates"):
            kept.append(line)
    assert candidates, "aiortc put no candidates in its offer"
    relay = {"type": "candidate", "to": message["to"], "from": message["from"], "username_fragment": None}
    return [
        {**message, "sdp": "\r\n".join(kept)},
        *({**relay, "candidate": text, "sdp_mid": mid, "sdp_mline_index": index} for text, mid, index in candidates),
        {**relay, "candidate": "", "sdp_mid": None, "sdp_mline_index": 0},
    ]


async def test_candidates_trickled_after_the_offer_are_used(links: list[PeerLink]) -> None:
    wire = Wire(trickled)
    anna, bruno = wire.link("anna", "bruno"), wire.link("bruno", "anna")
    links += [anna, bruno]
    anna.offer()

    await until_frames_both_ways(anna, bruno)
    offer = next(m for m in wire.sent if m["type"] == "offer")
    assert "a=candidate:" in offer["sdp"]  # aiortc sent them in the SDP; the wire moved them out
    remote = bruno.pc.getTransceivers()[0].receiver.transport.transport.getRemoteCandidates()
    assert [(c.type, c.ip) for c in remote] == [("host", "127.0.0.1")]
    assert not anna.errors and not bruno.errors
