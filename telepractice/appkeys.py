"""Typed application keys, declared once; each resource is set up by one cleanup context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from telepractice.audit import AuditLog
    from telepractice.auth.signing_keys import SigningKeyring
    from telepractice.config import Settings
    from telepractice.crypto.keyring import Keyring
    from telepractice.sessions.session_clock import SessionClock
    from telepractice.signaling.service import EventsHook, SignalingService, Timings
    from telepractice.signaling.probe import ProbeService
    from telepractice.storage.engine import SessionFactory
    from telepractice.web_files import WebFiles

SETTINGS = web.AppKey("settings", "Settings")
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", "SessionFactory")
KEYRING = web.AppKey("keyring", "Keyring")
SIGNING_KEYS = web.AppKey("signing_keys", "SigningKeyring")
AUDIT = web.AppKey("audit", "AuditLog")
WEB_FILES = web.AppKey("web_files", "WebFiles")

# Signalling (issue 3): the rooms of this server, the transport's timings, and where attendance events go.
SIGNALING = web.AppKey("signaling", "SignalingService")
SIGNALING_TIMINGS = web.AppKey("signaling_timings", "Timings")
ATTENDANCE_EVENTS = web.AppKey("attendance_events", "EventsHook")

# Sessions (issue 4): the clock that warns hosts five minutes before a session's planned end.
SESSION_CLOCK = web.AppKey("session_clock", "SessionClock")

# Connection tests (issue 6): the aiortc peers that echo a page's media before it joins.
PROBES = web.AppKey("probes", "ProbeService")
