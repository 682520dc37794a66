"""Make aiortc peers gather a 127.0.0.1 host candidate, and nothing else, for tests.

aioice skips 127.0.0.1 on purpose and offers every other address of the
machine, which would send test traffic off loopback. ``Connection.gather_candidates``
looks up the module-level ``aioice.ice.get_host_addresses`` on each call, so
replacing that one name for the duration of a ``with`` block is enough.
(With ``iceTransportPolicy=RELAY`` aioice gathers no host candidates at all.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aioice.ice

LOOPBACK_IPV4 = "127.0.0.1"


def loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Stand-in for ``aioice.ice.get_host_addresses``: 127.0.0.1 only (no IPv6: ::1 is not wanted either)."""
    return [LOOPBACK_IPV4] if use_ipv4 else []


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Within the block, aioice's host candidates are 127.0.0.1 alone."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = loopback_host_addresses
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original
