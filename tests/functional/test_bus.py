"""The message bus, in process and through a real Redis (skipped unless TELEPRACTICE_TEST_REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from telepractice.signaling.bus import InProcessBus, MessageBus, RedisBus
from tests.conftest import REDIS_ENV

TIMEOUT = 3.0

MakeBus = Callable[[], Awaitable[MessageBus]]


@pytest.fixture(params=["in-process", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[MakeBus]:
    """``await make_bus()``: a bus; several from one fixture share their messages, like server instances."""
    made: list[MessageBus] = []
    shared = InProcessBus()
    # Channels are global to a Redis server, whatever the database: a prefix per test keeps runs apart.
    prefix = f"test:{uuid.uuid4()}:"
    url = os.environ.get(REDIS_ENV, "")
    if request.param == "redis" and not url:
        pytest.skip(f"{REDIS_ENV} is not set")

    async def make() -> MessageBus:
        bus: MessageBus = shared if request.param == "in-process" else RedisBus.from_url(url, prefix=prefix)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


class Inbox:
    """A subscriber's callback that keeps what it got."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def __call__(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)


async def test_a_message_reaches_every_subscriber_of_its_room(make_bus: MakeBus) -> None:
    bus = await make_bus()
    first, second = Inbox(), Inbox()
    await bus.subscribe("room-1", first)
    await bus.subscribe("room-1", second)
    await bus.publish("room-1", {"type": "presence", "participant": "p-1"})
    assert await first.next() == {"type": "presence", "participant": "p-1"}
    assert await second.next() == {"type": "presence", "participant": "p-1"}


async def test_a_message_reaches_only_the_room_it_was_published_to(make_bus: MakeBus) -> None:
    bus = await make_bus()
    one, two = Inbox(), Inbox()
    await bus.subscribe("room-1", one)
    await bus.subscribe("room-2", two)
    await bus.publish("room-2", {"n": 2})
    await bus.publish("room-1", {"n": 1})
    assert await one.next() == {"n": 1}
    assert await two.next() == {"n": 2}
    assert one.queue.empty() and two.queue.empty()


async def test_messages_arrive_in_the_order_they_were_published(make_bus: MakeBus) -> None:
    bus = await make_bus()
    inbox = Inbox()
    await bus.subscribe("room-1", inbox)
    for n in range(20):
        await bus.publish("room-1", {"n": n})
    assert [(await inbox.next())["n"] for _ in range(20)] == list(range(20))


async def test_a_closed_subscription_receives_nothing_more(make_bus: MakeBus) -> None:
    bus = await make_bus()
    gone, staying = Inbox(), Inbox()
    subscription = await bus.subscribe("room-1", gone)
    await bus.subscribe("room-1", staying)
    await subscription.close()
    await subscription.close()
    await bus.publish("room-1", {"n": 1})
    assert await staying.next() == {"n": 1}
    assert gone.queue.empty()


async def test_each_subscriber_gets_its_own_copy(make_bus: MakeBus) -> None:
    bus = await make_bus()
    changed: list[dict[str, Any]] = []

    def meddle(message: dict[str, Any]) -> None:
        message["n"] = "changed"
        changed.append(message)

    inbox = Inbox()
    await bus.subscribe("room-1", meddle)
    await bus.subscribe("room-1", inbox)
    await bus.publish("room-1", {"n": 1})
    assert await inbox.next() == {"n": 1}
    assert changed == [{"n": "changed"}]


async def test_a_failing_subscriber_does_not_stop_the_others(make_bus: MakeBus, caplog: pytest.LogCaptureFixture) -> None:
    bus = await make_bus()

    def broken(message: dict[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    inbox = Inbox()
    await bus.subscribe("room-1", broken)
    await bus.subscribe("room-1", inbox)
    await bus.publish("room-1", {"n": 1})
    assert await inbox.next() == {"n": 1}
    assert "a subscriber of room room-1 failed" in caplog.text


async def test_two_instances_share_the_messages_of_a_room(make_bus: MakeBus) -> None:
    here, there = await make_bus(), await make_bus()
    inbox = Inbox()
    await there.subscribe("room-1", inbox)
    await here.publish("room-1", {"from": "here"})
    assert await inbox.next() == {"from": "here"}
