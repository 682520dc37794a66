"""How often a participant may ask for fresh ICE servers (``ice-servers``) in one session. No I/O.

Each answer signs new TURN credentials, so the request is cheap to make and
not free to answer. A page asks once before its connection test (in the
waiting room, or a worker alone in the call) and before each ICE restart:
after 4 s disconnected or on failure (web/js/call.js), so a network flapping
between Wi-Fi and mobile data asks a few times in a row and then every
several seconds. A burst of 3, then one every 10 s, covers that with room to spare
and keeps a faulty or hostile client from minting credentials in a loop.
"""

from __future__ import annotations

from telepractice.signaling import errors
from telepractice.signaling.ratelimit import TokenBucket

ICE_SERVERS_BURST = 3
ICE_SERVERS_EVERY_SECONDS = 10.0


class IceRefreshLimit:
    """One token bucket per participant of a room, kept for the life of the room (waiting and in the call alike)."""

    def __init__(self, burst: int = ICE_SERVERS_BURST, every: float = ICE_SERVERS_EVERY_SECONDS) -> None:
        self.burst = burst
        self.every = every
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, participant_id: str, now: float) -> None:
        """Spend one request of ``participant_id``; RateLimited, naming when to ask again, past the limit."""
        bucket = self._buckets.setdefault(participant_id, TokenBucket(1.0 / self.every, self.burst))
        if not bucket.take(now):
            wait = bucket.retry_after(now)
            raise errors.RateLimited(
                f"Fresh ICE servers were asked for too often; ask again in {wait:.1f} seconds.",
                retry_after=round(wait, 1),
            )
