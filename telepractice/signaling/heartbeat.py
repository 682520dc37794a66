"""One timer for every connection's heartbeat, instead of a sleeping task per connection.

Connections are spread over buckets that a single task visits in turn, one
bucket per tick, so each connection is visited once per ping interval and a
tick touches only its share: holding 10,000 idle connections costs one timer,
not 10,000 wake-ups. A connection joins the bucket visited last, so its first
visit comes one full interval after it joined.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("telepractice.signaling")

# A tick shorter than this wakes the loop for nothing (tests use ping intervals of a tenth of a second).
MIN_TICK_SECONDS = 0.01
MAX_BUCKETS = 50


def ping_needed(now: float, last_heard: float, interval: float, sent_since_last_visit: bool) -> bool:
    """Whether a visit should ping: not when the connection carried traffic both ways since the last one.

    A ping exists so that each side hears the other; a connection in the middle of
    negotiating a call already does, and pinging it too cost the server a send, a
    pong and its parse for nothing (an estimated 3 of the ~50 us of server CPU per
    relayed message at 8,000 candidates a second over 1,000 connections,
    bench/README.md). A quiet connection, or one that only receives, is pinged as
    before.
    """
    return not (sent_since_last_visit and now - last_heard < interval)


class Beating(Protocol):
    def beat(self, now: float) -> None:
        """Visited once per interval: ping, or close when silent too long. Must not block or raise."""


class Heartbeat:
    """Visits every member once per ``interval`` from one task; ``run()`` is that task."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        if interval <= 0:
            raise ValueError(f"the heartbeat interval must be positive, not {interval}")
        self.interval = interval
        self.clock = clock
        count = max(1, min(MAX_BUCKETS, int(interval / MIN_TICK_SECONDS)))
        self.tick_seconds = interval / count
        self._buckets: list[set[Beating]] = [set() for _ in range(count)]
        self._where: dict[Beating, int] = {}
        self._last_visited = 0

    def add(self, member: Beating) -> None:
        if member not in self._where:
            self._buckets[self._last_visited].add(member)
            self._where[member] = self._last_visited

    def discard(self, member: Beating) -> None:
        bucket = self._where.pop(member, None)
        if bucket is not None:
            self._buckets[bucket].discard(member)

    def __len__(self) -> int:
        return len(self._where)

    def tick(self, now: float) -> None:
        """Visit the next bucket."""
        self._last_visited = (self._last_visited + 1) % len(self._buckets)
        for member in list(self._buckets[self._last_visited]):
            try:
                member.beat(now)
            except Exception:
                log.exception("a heartbeat visit failed")

    async def run(self) -> None:
        """Tick on a fixed schedule until cancelled; a late tick catches up rather than drifting."""
        next_tick = self.clock() + self.tick_seconds
        while True:
            await asyncio.sleep(max(0.0, next_tick - self.clock()))
            self.tick(self.clock())
            next_tick += self.tick_seconds
            behind = self.clock() - next_tick
            if behind > self.interval:
                # Asleep for longer than a whole round (a suspended machine): start the schedule again from now.
                next_tick = self.clock() + self.tick_seconds
