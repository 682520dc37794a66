"""Token buckets and per-connection message budgets, with time stepped by hand."""

from __future__ import annotations

import random

import pytest

from telepractice.signaling.messages import MAX_FRAME_BYTES
from telepractice.signaling.ratelimit import MessageBudget, TokenBucket, Verdict


def test_a_bucket_allows_its_burst_at_once_then_refuses() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]


def test_a_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    for _ in range(5):
        bucket.take(0.0)
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    assert not bucket.take(0.1)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert bucket.tokens(3600.0) == 5


def test_a_clock_stepping_back_refills_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=1)
    assert bucket.take(100.0)
    assert not bucket.take(50.0)
    assert not bucket.take(100.5)
    assert bucket.take(101.0)


def test_retry_after_says_when_enough_tokens_will_be_there() -> None:
    bucket = TokenBucket(rate=4, burst=2)
    bucket.take(0.0, cost=2)
    assert bucket.retry_after(0.0) == pytest.approx(0.25)
    assert bucket.retry_after(1.0) == 0.0
    assert bucket.retry_after(0.0, cost=3) == float("inf")


def test_a_refused_take_spends_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=3)
    assert not bucket.take(0.0, cost=4)
    assert bucket.tokens(0.0) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0), (1, 0.5)])
def test_a_bucket_refuses_settings_that_cannot_work(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)


def test_a_budget_lets_a_six_way_call_trickle_its_candidates_at_once() -> None:
    budget = MessageBudget()
    # Five peers: an offer each and some thirty candidates each, within the same instant.
    verdicts = [budget.admit(0.0, 4000) for _ in range(5)] + [budget.admit(0.0, 250) for _ in range(150)]
    assert set(verdicts) == {Verdict.ACCEPT}


def test_a_flood_is_refused_once_then_dropped_quietly_then_disconnected() -> None:
    budget = MessageBudget(messages_per_second=1, message_burst=2, max_refused=3)
    verdicts = [budget.admit(0.0, 10) for _ in range(6)]
    assert verdicts == [
        Verdict.ACCEPT,
        Verdict.ACCEPT,
        Verdict.REFUSE,
        Verdict.DROP,
        Verdict.DROP,
        Verdict.DISCONNECT,
    ]


def test_an_accepted_message_forgives_earlier_refusals() -> None:
    budget = MessageBudget(messages_per_second=1, message_burst=1, max_refused=2)
    assert budget.admit(0.0, 10) is Verdict.ACCEPT
    assert budget.admit(0.0, 10) is Verdict.REFUSE
    assert budget.admit(0.0, 10) is Verdict.DROP
    assert budget.admit(1.0, 10) is Verdict.ACCEPT
    assert budget.admit(1.0, 10) is Verdict.REFUSE


def test_a_budget_counts_bytes_as_well_as_messages() -> None:
    budget = MessageBudget(bytes_per_second=MAX_FRAME_BYTES, byte_burst=2 * MAX_FRAME_BYTES)
    assert budget.admit(0.0, MAX_FRAME_BYTES) is Verdict.ACCEPT
    assert budget.admit(0.0, MAX_FRAME_BYTES) is Verdict.ACCEPT
    assert budget.admit(0.0, MAX_FRAME_BYTES) is Verdict.REFUSE
    assert budget.admit(0.0, 10) is Verdict.DROP
    assert budget.admit(1.0, MAX_FRAME_BYTES) is Verdict.ACCEPT


def test_a_message_refused_for_its_bytes_spends_no_message_token() -> None:
    # Messages barely refill: the one left after the first frame is there for the third only if the
    # second, refused for its size, did not spend it.
    budget = MessageBudget(message_burst=2, messages_per_second=0.001, byte_burst=MAX_FRAME_BYTES, bytes_per_second=1)
    assert budget.admit(0.0, MAX_FRAME_BYTES) is Verdict.ACCEPT
    assert budget.admit(0.0, MAX_FRAME_BYTES) is Verdict.REFUSE
    assert budget.admit(1.0, 1) is Verdict.ACCEPT
    assert budget.admit(1.0, 0) is Verdict.REFUSE


def test_a_budget_must_hold_one_whole_frame() -> None:
    with pytest.raises(ValueError, match="one whole frame"):
        MessageBudget(byte_burst=MAX_FRAME_BYTES - 1)


def _two_buckets_verdicts(frames: list[tuple[float, int]], max_refused: int, **rates: float) -> list[Verdict]:
    """The budget's rule spelled out with two TokenBuckets, to check the one-method budget against."""
    messages = TokenBucket(rates["messages_per_second"], rates["message_burst"])
    data = TokenBucket(rates["bytes_per_second"], rates["byte_burst"])
    verdicts, refused = [], 0
    for now, size in frames:
        if messages.can_take(now) and data.can_take(now, size):
            messages.take(now)
            data.take(now, size)
            refused = 0
            verdicts.append(Verdict.ACCEPT)
            continue
        refused += 1
        verdicts.append(Verdict.DISCONNECT if refused > max_refused else
                        Verdict.REFUSE if refused == 1 else Verdict.DROP)
    return verdicts


@pytest.mark.parametrize("seed", range(20))
def test_the_budget_gives_the_verdicts_of_two_token_buckets(seed: int) -> None:
    rng = random.Random(seed)
    rates = {"messages_per_second": rng.choice([1.0, 5.0, 50.0]), "message_burst": rng.choice([1.0, 3.0, 200.0]),
             "bytes_per_second": rng.choice([1000.0, 256 * 1024.0]),
             "byte_burst": rng.choice([float(MAX_FRAME_BYTES), 1024 * 1024.0])}
    now, frames = 0.0, []
    for _ in range(500):
        # Mostly forwards, sometimes the same instant, now and then a clock that steps back.
        now = max(0.0, now + rng.choice([0.0, 0.001, 0.05, 0.3, 2.0, -0.5]))
        frames.append((now, rng.choice([10, 250, 4096, MAX_FRAME_BYTES])))
    budget = MessageBudget(max_refused=1000, **rates)
    assert [budget.admit(now, size) for now, size in frames] == _two_buckets_verdicts(frames, 1000, **rates)
