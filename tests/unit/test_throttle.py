"""The login throttle's policy: free attempts, then waits that double, capped, and forgotten in time."""

from __future__ import annotations

import datetime as dt

import pytest

from telepractice.auth.throttle import (
    ADDRESS_ALLOWANCE,
    MAX_DELAY,
    ThrottlePolicy,
    account_key,
    address_key,
    policies,
)
from telepractice.config import load_settings

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
POLICY = ThrottlePolicy(max_failures=5, window=dt.timedelta(minutes=15))


def wait(failures: int, seconds_since_last: float) -> int:
    return POLICY.retry_after(failures, NOW - dt.timedelta(seconds=seconds_since_last), NOW)


@pytest.mark.parametrize("failures", [0, 1, 4])
def test_attempts_below_the_limit_never_wait(failures: int) -> None:
    assert wait(failures, 0) == 0


def test_after_the_limit_the_next_attempt_waits_two_seconds() -> None:
    assert wait(5, 0) == 2
    assert wait(5, 1.5) == 1
    assert wait(5, 2) == 0


def test_each_further_failure_doubles_the_wait() -> None:
    assert [wait(failures, 0) for failures in range(5, 11)] == [2, 4, 8, 16, 32, 64]


def test_the_wait_is_capped_at_fifteen_minutes() -> None:
    assert MAX_DELAY == dt.timedelta(minutes=15)
    assert wait(15, 0) == 900
    assert wait(10_000, 0) == 900


def test_failures_are_forgotten_a_window_after_the_last_one() -> None:
    assert wait(15, 15 * 60 - 1) == 1
    assert wait(15, 15 * 60 + 1) == 0


def test_partial_seconds_round_up_so_a_client_never_retries_too_early() -> None:
    assert wait(6, 0.1) == 4


def test_settings_give_the_account_limit_and_a_more_generous_address_limit() -> None:
    settings = load_settings({}, {"login_max_failures": "3", "login_window_minutes": "10"})
    account, address = policies(settings)
    assert account == ThrottlePolicy(3, dt.timedelta(minutes=10))
    assert address == ThrottlePolicy(3 * ADDRESS_ALLOWANCE, dt.timedelta(minutes=10))
    assert ADDRESS_ALLOWANCE > 1


def test_keys_name_the_account_in_lower_case_and_the_address() -> None:
    assert account_key(" Marta.Silva ") == "account:marta.silva"
    assert address_key("192.0.2.7") == "address:192.0.2.7"
