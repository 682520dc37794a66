"""The one heartbeat timer: every connection visited once per interval, spread over ticks."""

from __future__ import annotations

import asyncio

import pytest

from telepractice.signaling.heartbeat import Heartbeat, ping_needed


class Member:
    def __init__(self, name: str, visits: list[tuple[str, float]], fails: bool = False) -> None:
        self.name, self.visits, self.fails = name, visits, fails

    def beat(self, now: float) -> None:
        self.visits.append((self.name, now))
        if self.fails:
            raise RuntimeError("broken member")


def test_every_member_is_visited_once_per_interval_whatever_tick_it_joined_on() -> None:
    heartbeat = Heartbeat(1.0, clock=lambda: 0.0)
    buckets = round(1.0 / heartbeat.tick_seconds)
    visits: list[tuple[str, float]] = []
    for k in range(7):
        heartbeat.add(Member(f"m{k}", visits))
        heartbeat.tick(k * heartbeat.tick_seconds)  # members join between ticks, so they land in different buckets
    visits.clear()
    for k in range(2 * buckets):
        heartbeat.tick(k * heartbeat.tick_seconds)
    assert sorted(name for name, _ in visits) == sorted(f"m{k}" for k in range(7) for _ in range(2))
    assert len({when for _, when in visits}) > 1  # spread over ticks, not all at once


def test_a_new_member_is_first_visited_a_whole_interval_after_it_joined() -> None:
    heartbeat = Heartbeat(0.5, clock=lambda: 0.0)
    buckets = round(0.5 / heartbeat.tick_seconds)
    visits: list[tuple[str, float]] = []
    heartbeat.tick(0.0)
    heartbeat.add(Member("late", visits))
    for k in range(1, buckets):
        heartbeat.tick(k * heartbeat.tick_seconds)
    assert visits == []
    heartbeat.tick(buckets * heartbeat.tick_seconds)
    assert [name for name, _ in visits] == ["late"]


def test_a_discarded_member_is_not_visited_and_one_failing_member_spares_the_others() -> None:
    heartbeat = Heartbeat(0.1, clock=lambda: 0.0)
    visits: list[tuple[str, float]] = []
    gone, broken, fine = Member("gone", visits), Member("broken", visits, fails=True), Member("fine", visits)
    for member in (gone, broken, fine):
        heartbeat.add(member)
    heartbeat.discard(gone)
    heartbeat.discard(gone)  # twice is harmless
    assert len(heartbeat) == 2
    for k in range(round(0.1 / heartbeat.tick_seconds)):
        heartbeat.tick(k * heartbeat.tick_seconds)
    assert sorted(name for name, _ in visits) == ["broken", "fine"]


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(0.0, clock=lambda: 0.0)


async def test_run_visits_members_on_the_event_loop_clock() -> None:
    loop = asyncio.get_running_loop()
    heartbeat = Heartbeat(0.05, clock=loop.time)
    visits: list[tuple[str, float]] = []
    heartbeat.add(Member("m", visits))
    task = asyncio.create_task(heartbeat.run())
    try:
        for _ in range(200):  # bounded: at most 2 s
            if len(visits) >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert len(visits) >= 3
    assert [when for _, when in visits] == sorted(when for _, when in visits)


@pytest.mark.parametrize(
    ("heard_ago", "sent", "pinged"),
    [
        (0.5, True, False),  # traffic both ways since the last visit: each side already hears the other
        (0.5, False, True),  # the connection only sends: it hears nothing from us but pings
        (6.0, True, True),  # the connection only receives: we must hear a pong to know it is there
        (6.0, False, True),  # quiet both ways
        (5.0, True, True),  # heard exactly one interval ago: not since the last visit
    ],
)
def test_a_visit_pings_unless_traffic_went_both_ways_since_the_last(heard_ago: float, sent: bool, pinged: bool) -> None:
    assert ping_needed(100.0, 100.0 - heard_ago, 5.0, sent) is pinged
