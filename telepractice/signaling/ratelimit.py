"""Message-rate budgets: a pure token bucket, and the per-connection budget built on it.

Time is always passed in (seconds from a monotonic clock); nothing here reads
a clock or sleeps, so tests step time by hand.
"""

from __future__ import annotations

import enum

from telepractice.signaling.messages import MAX_FRAME_BYTES


def _check_rate(rate: float, burst: float) -> None:
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst}")


class TokenBucket:
    """Up to ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: float) -> None:
        _check_rate(rate, burst)
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated: float | None = None

    def tokens(self, now: float) -> float:
        """The tokens available at ``now``."""
        self._refill(now)
        return self._tokens

    def can_take(self, now: float, cost: float = 1.0) -> bool:
        return self.tokens(now) >= cost

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are that many; say whether it did."""
        if not self.can_take(now, cost):
            return False
        self._tokens -= cost
        return True

    def retry_after(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available (infinite if cost exceeds the burst)."""
        if cost > self.burst:
            return float("inf")
        return max(0.0, (cost - self.tokens(now)) / self.rate)

    def _refill(self, now: float) -> None:
        if self._updated is not None and now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        # A clock that steps back refills nothing and does not move the mark back.
        if self._updated is None or now > self._updated:
            self._updated = now


class Verdict(enum.Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # drop it and reply rate-limited (once per run of refusals)
    DROP = "drop"  # drop it silently: the client was already told
    DISCONNECT = "disconnect"  # the client keeps flooding: close with too-many-messages


# Read once: an enum member read through its class costs 70 ns on Python 3.11, and every frame is admitted.
ACCEPT = Verdict.ACCEPT

DEFAULT_MESSAGES_PER_SECOND = 50.0
DEFAULT_MESSAGE_BURST = 200.0  # a six-way mesh trickles a few hundred candidates when a call starts
DEFAULT_BYTES_PER_SECOND = 256 * 1024.0
DEFAULT_BYTE_BURST = 1024 * 1024.0
DEFAULT_MAX_REFUSED = 100


class MessageBudget:
    """How much one connection may send: messages and bytes, each with a burst.

    Two token buckets, as ``TokenBucket`` keeps them, but refilled and spent in one
    method: every frame the server reads passes through ``admit``, and the fifteen
    method calls of two ``TokenBucket``s (against one here) were a fifth of the Python
    calls per relayed message (bench/README.md). ``tests/unit/test_ratelimit.py``
    checks that both give the same verdicts.
    """

    def __init__(
        self,
        *,
        messages_per_second: float = DEFAULT_MESSAGES_PER_SECOND,
        message_burst: float = DEFAULT_MESSAGE_BURST,
        bytes_per_second: float = DEFAULT_BYTES_PER_SECOND,
        byte_burst: float = DEFAULT_BYTE_BURST,
        max_refused: int = DEFAULT_MAX_REFUSED,
    ) -> None:
        if byte_burst < MAX_FRAME_BYTES:
            raise ValueError(f"byte_burst must hold one whole frame ({MAX_FRAME_BYTES} bytes), not {byte_burst}")
        _check_rate(messages_per_second, message_burst)
        _check_rate(bytes_per_second, byte_burst)
        self.messages_per_second, self.message_burst = messages_per_second, message_burst
        self.bytes_per_second, self.byte_burst = bytes_per_second, byte_burst
        self.max_refused = max_refused
        self._messages = message_burst
        self._bytes = byte_burst
        self._updated: float | None = None
        self._refused_in_a_row = 0

    def admit(self, now: float, size: int) -> Verdict:
        """Whether a frame of ``size`` bytes arriving at ``now`` is within budget, and what to do if not."""
        updated = self._updated
        if updated is None or now > updated:
            if updated is not None:
                elapsed = now - updated
                self._messages = min(self.message_burst, self._messages + elapsed * self.messages_per_second)
                self._bytes = min(self.byte_burst, self._bytes + elapsed * self.bytes_per_second)
            # A clock that steps back refills nothing and does not move the mark back.
            self._updated = now
        if self._messages >= 1.0 and self._bytes >= size:
            self._messages -= 1.0
            self._bytes -= size
            self._refused_in_a_row = 0
            return ACCEPT
        self._refused_in_a_row += 1
        if self._refused_in_a_row > self.max_refused:
            return Verdict.DISCONNECT
        return Verdict.REFUSE if self._refused_in_a_row == 1 else Verdict.DROP
