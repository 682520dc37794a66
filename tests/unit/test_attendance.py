"""Folding attendance events into presences: interruptions, leaving versus losing the connection, minutes."""

from __future__ import annotations

import datetime as dt

import pytest

from telepractice.sessions.attendance import (
    AttendanceEvent,
    AttendanceKind,
    EndReason,
    Presence,
    WhoKind,
    fold,
    joined_time,
    minutes,
    recover,
    step,
)

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
K = AttendanceKind


def at(minute: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minute)


def ev(kind: AttendanceKind, minute: float, who: str | None = "mum", reason: EndReason | None = None,
       who_kind: WhoKind = WhoKind.FAMILY) -> AttendanceEvent:
    return AttendanceEvent(kind, at(minute), who, who_kind if who else None, reason)


def test_a_drop_and_a_return_within_the_grace_is_one_presence_with_an_interruption() -> None:
    presences = fold([ev(K.ADMITTED, 0), ev(K.DROPPED, 10), ev(K.RECONNECTED, 10.5), ev(K.LEFT, 30)])
    assert len(presences) == 1
    (mum,) = presences
    assert (mum.started_at, mum.ended_at, mum.end_reason) == (at(0), at(30), EndReason.LEFT)
    assert mum.interruptions == 1
    assert minutes(mum.joined()) == 29.5


def test_connection_lost_ends_the_presence_at_the_drop_not_at_the_end_of_the_grace() -> None:
    (mum,) = fold([ev(K.ADMITTED, 0), ev(K.DROPPED, 20), ev(K.LEFT, 20.5, reason=EndReason.CONNECTION_LOST)])
    assert (mum.ended_at, mum.end_reason) == (at(20), EndReason.CONNECTION_LOST)
    assert minutes(mum.joined()) == 20


def test_leaving_and_losing_the_connection_are_recorded_differently() -> None:
    left, lost = fold([
        ev(K.ADMITTED, 0, "a"), ev(K.LEFT, 5, "a"),
        ev(K.ADMITTED, 1, "b"), ev(K.DROPPED, 6, "b"), ev(K.LEFT, 7, "b", EndReason.CONNECTION_LOST),
    ])
    assert (left.who, left.end_reason) == ("a", EndReason.LEFT)
    assert (lost.who, lost.end_reason) == ("b", EndReason.CONNECTION_LOST)


def test_coming_back_after_the_grace_is_a_second_presence() -> None:
    presences = fold([
        ev(K.ADMITTED, 0), ev(K.DROPPED, 10), ev(K.LEFT, 10.5, reason=EndReason.CONNECTION_LOST),
        ev(K.ADMITTED, 15), ev(K.LEFT, 40),
    ])
    assert [(p.started_at, p.ended_at) for p in presences] == [(at(0), at(10)), (at(15), at(40))]
    assert minutes(joined_time(presences)["mum"]) == 35


def test_the_session_ending_closes_everyone_and_someone_dropped_at_their_drop() -> None:
    presences = fold([
        ev(K.ADMITTED, 0, "worker", who_kind=WhoKind.STAFF), ev(K.ADMITTED, 2, "mum"),
        ev(K.ADMITTED, 3, "kid"), ev(K.DROPPED, 50, "kid"),
        ev(K.SESSION_ENDED, 55, None),
    ])
    by_who = {p.who: p for p in presences}
    assert (by_who["worker"].ended_at, by_who["worker"].end_reason) == (at(55), EndReason.SESSION_ENDED)
    assert (by_who["mum"].ended_at, by_who["mum"].end_reason) == (at(55), EndReason.SESSION_ENDED)
    assert (by_who["kid"].ended_at, by_who["kid"].end_reason) == (at(50), EndReason.CONNECTION_LOST)


def test_withdrawing_consent_is_its_own_end_reason() -> None:
    (kid,) = fold([ev(K.ADMITTED, 0, "kid"), ev(K.REMOVED, 12, "kid", EndReason.CONSENT_WITHDRAWN)])
    assert (kid.ended_at, kid.end_reason) == (at(12), EndReason.CONSENT_WITHDRAWN)


def test_side_rooms_and_replaced_connections_do_not_split_a_presence() -> None:
    presences = fold([
        ev(K.ADMITTED, 0), ev(K.MOVED_ASIDE, 5), ev(K.RECONNECTED, 6), ev(K.BROUGHT_BACK, 9), ev(K.LEFT, 20),
    ])
    assert len(presences) == 1 and presences[0].interruptions == 0
    assert minutes(presences[0].joined()) == 20


def test_events_about_someone_not_present_change_nothing() -> None:
    assert fold([ev(K.DROPPED, 1), ev(K.LEFT, 2)]) == []
    assert step(None, ev(K.LEFT, 2)) is None


def test_each_event_moves_the_last_known_moment_forward() -> None:
    presence = step(None, ev(K.ADMITTED, 0))
    presence = step(presence, ev(K.DROPPED, 7))
    assert presence is not None and presence.last_heartbeat_at == at(7)


def test_an_open_presence_counts_until_now_and_stops_counting_at_a_drop() -> None:
    (mum,) = fold([ev(K.ADMITTED, 0), ev(K.DROPPED, 8)])
    assert mum.is_open
    assert minutes(mum.joined(until=at(30))) == 8


@pytest.mark.parametrize(
    ("presence", "ended", "reason"),
    [
        (Presence("mum", WhoKind.FAMILY, at(0), at(17)), at(17), EndReason.SERVER_RESTART),
        (Presence("mum", WhoKind.FAMILY, at(0), at(17), dropped_at=at(12)), at(12), EndReason.CONNECTION_LOST),
    ],
)
def test_recovery_closes_at_the_last_moment_the_person_was_known_to_be_there(
    presence: Presence, ended: dt.datetime, reason: EndReason
) -> None:
    closed = recover(presence)
    assert (closed.ended_at, closed.end_reason) == (ended, reason)
