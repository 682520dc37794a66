"""The contact-frequency rule: held versus required per case and week, Monday to Sunday."""

from __future__ import annotations

import datetime as dt

from telepractice.config import load_settings
from telepractice.sessions.contacts import (
    CaseRef,
    as_csv,
    last_weeks,
    minimums,
    week_start,
    weekly_contacts,
)

MONDAY = dt.date(2026, 11, 16)
OPENED = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
REQUIRED = {"high": 5, "medium": 3, "low": 1}


def day(offset: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(MONDAY + dt.timedelta(days=offset), dt.time(hour), dt.UTC)


def test_weeks_run_monday_to_sunday_in_utc() -> None:
    assert week_start(day(0)) == week_start(day(6, 23)) == MONDAY
    assert week_start(day(7, 0)) == MONDAY + dt.timedelta(days=7)
    assert last_weeks(dt.date(2026, 11, 25), 3) == [dt.date(2026, 11, 9), MONDAY, dt.date(2026, 11, 23)]


def test_a_case_is_behind_when_it_held_fewer_contacts_than_its_risk_requires() -> None:
    cases = [CaseRef("h", "FAM-HIGH", "high", OPENED), CaseRef("l", "FAM-LOW", "low", OPENED)]
    contacts = [("h", day(d)) for d in range(4)] + [("l", day(2))]
    rows = weekly_contacts(cases, contacts, [MONDAY], REQUIRED, today=dt.date(2026, 11, 30))
    assert [(r.reference, r.held, r.required, r.behind, r.week_complete) for r in rows] == [
        ("FAM-HIGH", 4, 5, True, True),
        ("FAM-LOW", 1, 1, False, True),
    ]


def test_contacts_count_in_their_own_week_and_the_current_week_is_marked_incomplete() -> None:
    cases = [CaseRef("m", "FAM-MED", "medium", OPENED)]
    contacts = [("m", day(-1)), ("m", day(1)), ("m", day(8))]
    rows = weekly_contacts(cases, contacts, [MONDAY, MONDAY + dt.timedelta(days=7)], REQUIRED,
                           today=dt.date(2026, 11, 25))
    assert [(r.held, r.week_complete) for r in rows] == [(1, True), (1, False)]


def test_weeks_before_a_case_was_opened_are_not_reported() -> None:
    cases = [CaseRef("n", "FAM-NEW", "high", day(9))]
    rows = weekly_contacts(cases, [], [MONDAY, MONDAY + dt.timedelta(days=7)], REQUIRED, today=dt.date(2026, 12, 1))
    assert [r.week_start for r in rows] == [MONDAY + dt.timedelta(days=7)]


def test_minimums_come_from_the_settings() -> None:
    settings = load_settings({"TELEPRACTICE_CONTACTS_HIGH": "4", "TELEPRACTICE_CONTACTS_LOW": "0"})
    assert minimums(settings) == {"high": 4, "medium": 3, "low": 0}
    assert minimums(load_settings({})) == REQUIRED


def test_the_csv_has_a_header_and_one_row_per_case_and_week() -> None:
    rows = weekly_contacts([CaseRef("h", "FAM-HIGH", "high", OPENED)], [("h", day(1))], [MONDAY], REQUIRED,
                           today=dt.date(2026, 11, 30))
    assert as_csv(rows).splitlines() == [
        "case_reference,risk_level,week_start,held,required,behind,week_complete",
        "FAM-HIGH,high,2026-11-16,1,5,yes,yes",
    ]
