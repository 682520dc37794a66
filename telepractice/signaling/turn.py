"""ICE servers with short-lived TURN credentials, by coturn's shared-secret (REST) scheme.

coturn, started with ``use-auth-secret`` and ``static-auth-secret=SECRET``,
accepts any username of the form ``"<unix expiry>:<anything>"`` whose password
is ``base64(HMAC-SHA1(SECRET, username))`` until the expiry passes. So the
server never stores TURN users: it hands each admitted participant a
credential that dies with their session (or sooner), and a fresh one when the
page asks before its connection test or an ICE restart (the ``ice-servers``
message, :func:`fresh`), simply by calling :func:`ice_servers` again. The
server's own connection-test peer gets one too (:func:`for_probe`), that
lasts no longer than a test may.

Pure: no I/O, no clock (the caller passes ``now``), and no logging, so the
secret can never reach a log line.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import math
from typing import Any

TURN_SCHEMES = ("turn:", "turns:")
STUN_SCHEMES = ("stun:", "stuns:")


@dataclasses.dataclass(frozen=True)
class TurnConfig:
    """The TURN secret shared with coturn, the URLs handed to clients, and the credentials' lifetime."""

    secret: str = dataclasses.field(repr=False)  # never shown: repr, logs and errors leave it out
    urls: tuple[str, ...]
    lifetime_seconds: int

    def __post_init__(self) -> None:
        if not isinstance(self.secret, str) or not self.secret:
            raise ValueError("TURN secret must not be empty")
        urls = tuple(self.urls)
        object.__setattr__(self, "urls", urls)
        if not any(url.startswith(TURN_SCHEMES) for url in urls):
            raise ValueError(f"TURN urls must include a turn: or turns: URL, got {list(urls)!r}")
        for url in urls:
            if not url.startswith(TURN_SCHEMES + STUN_SCHEMES):
                raise ValueError(f"TURN url {url!r} is not a turn:, turns:, stun: or stuns: URL")
        if isinstance(self.lifetime_seconds, bool) or not isinstance(self.lifetime_seconds, int):
            raise ValueError(f"TURN lifetime_seconds must be a whole number, got {self.lifetime_seconds!r}")
        if self.lifetime_seconds <= 0:
            raise ValueError(f"TURN lifetime_seconds must be positive, got {self.lifetime_seconds}")

    @property
    def turn_urls(self) -> list[str]:
        return [url for url in self.urls if url.startswith(TURN_SCHEMES)]

    @property
    def stun_urls(self) -> list[str]:
        return [url for url in self.urls if url.startswith(STUN_SCHEMES)]


def credential(secret: str, username: str) -> str:
    """coturn's REST password for ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def expiry(config: TurnConfig, now: float, session_ends_at: float) -> int:
    """The unix time a credential made at ``now`` stops working: the lifetime, cut at the session's end."""
    if session_ends_at <= now:
        raise ValueError("TURN credentials cannot be made for a session that has ended")
    # Rounded down, so a credential never outlives the session.
    return math.floor(min(now + config.lifetime_seconds, session_ends_at))


def ice_servers(config: TurnConfig, participant_id: str, now: float, session_ends_at: float) -> list[dict[str, Any]]:
    """RTCIceServer dicts for one admitted participant: TURN with fresh credentials, then any STUN."""
    if not participant_id:
        raise ValueError("TURN participant id must not be empty")
    if ":" in participant_id:
        # coturn splits the username at the first ':' to read the expiry.
        raise ValueError(f"TURN participant id must not contain ':', got {participant_id!r}")
    username = f"{expiry(config, now, session_ends_at)}:{participant_id}"
    servers: list[dict[str, Any]] = [
        {"urls": config.turn_urls, "username": username, "credential": credential(config.secret, username)}
    ]
    if config.stun_urls:
        servers.append({"urls": config.stun_urls})
    return servers


def fresh(config: TurnConfig, participant_id: str, now: float, session_ends_at: float) -> dict[str, Any]:
    """The fields of an ``ice-servers`` answer: new credentials and when they stop; nothing once the session is over."""
    if session_ends_at <= now:
        return {}
    return {
        "ice_servers": ice_servers(config, participant_id, now, session_ends_at),
        "expires_at": expiry(config, now, session_ends_at),
    }


PROBE_PREFIX = "probe-"  # the username's id part for the server's own connection-test peers


def for_probe(config: TurnConfig, probe_id: str, now: float, max_seconds: float) -> list[dict[str, Any]]:
    """RTCIceServer dicts for the server's connection-test peer ``probe_id``: a credential for the test's length only.

    coturn keeps an allocation made in time alive while it is refreshed, so the test may use it to its end;
    the probe peer is closed by then (``ProbeLimits.max_seconds``).
    """
    return ice_servers(config, f"{PROBE_PREFIX}{probe_id}", now, now + max_seconds)
