"""Slowing down password guessing, per account and per address.

The policy is pure: from the failures remembered for a key it says how many
seconds the next attempt must wait. The database functions keep one
LoginThrottle row per key ("account:<username>", "address:<ip>").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.config import Settings
from telepractice.storage.models import LoginThrottle

MAX_DELAY = dt.timedelta(minutes=15)
# An office behind one NAT address shares it among many staff, each of whom mistypes now and then.
ADDRESS_ALLOWANCE = 4


@dataclasses.dataclass(frozen=True)
class ThrottlePolicy:
    """After max_failures failures, each attempt waits twice as long as the one before, up to MAX_DELAY."""

    max_failures: int
    window: dt.timedelta
    cap: dt.timedelta = MAX_DELAY

    def delay(self, failures: int) -> dt.timedelta:
        """How long after the last failure the next attempt must wait."""
        if failures < self.max_failures:
            return dt.timedelta(0)
        # 2 s after the max_failures-th failure, then 4, 8, ...; the exponent is bounded to stay small.
        exponent = min(failures - self.max_failures + 1, 32)
        return min(dt.timedelta(seconds=2**exponent), self.cap)

    def retry_after(self, failures: int, last_failure_at: dt.datetime, now: dt.datetime) -> int:
        """Whole seconds the next attempt must wait (0: it may go ahead)."""
        if now - last_failure_at > self.window:
            return 0
        remaining = (last_failure_at + self.delay(failures) - now).total_seconds()
        return max(0, math.ceil(remaining))


def policies(settings: Settings) -> tuple[ThrottlePolicy, ThrottlePolicy]:
    """The account policy and the (more generous) address policy."""
    window = dt.timedelta(minutes=settings.login_window_minutes)
    return (
        ThrottlePolicy(settings.login_max_failures, window),
        ThrottlePolicy(settings.login_max_failures * ADDRESS_ALLOWANCE, window),
    )


def account_key(username: str) -> str:
    return f"account:{username.strip().lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


async def seconds_to_wait(
    session: AsyncSession, checks: Sequence[tuple[str, ThrottlePolicy]], now: dt.datetime
) -> int:
    """The longest wait any of the (key, policy) pairs asks for."""
    keys = {key: policy for key, policy in checks}
    rows = (await session.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))).scalars()
    return max((keys[row.key].retry_after(row.failures, row.last_failure_at, now) for row in rows), default=0)


async def record_failure(session: AsyncSession, keys: Iterable[str], now: dt.datetime, window: dt.timedelta) -> None:
    """Count one failure against each key; failures older than the window are forgotten first."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - window))
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    for key in keys:
        # One statement, so concurrent failures (other processes included) are all counted.
        insert = dialect.insert(LoginThrottle).values(key=key, failures=1, first_failure_at=now, last_failure_at=now)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={"failures": LoginThrottle.failures + 1, "last_failure_at": now},
            )
        )


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
