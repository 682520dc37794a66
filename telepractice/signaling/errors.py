"""Signalling errors: each has a code, one sentence, and what the socket does next.

``close_code`` is the WebSocket close code the transport uses after sending the
``error`` message, or ``None`` when the transport replies with the error and
keeps the connection open. The transport translates these in one place; the
room and the parser only raise them.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from telepractice.errors import ProtocolError, TelepracticeError, UserError


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses; 4000-4999 are ours."""

    NORMAL = 1000  # the participant left
    GOING_AWAY = 1001  # the server is shutting down
    INVALID_PAYLOAD = 1007  # not UTF-8 JSON, or ambiguous JSON
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SESSION_ENDED = 4000
    NOT_AUTHENTICATED = 4001
    UNSUPPORTED_VERSION = 4002
    FORBIDDEN = 4003
    HEARTBEAT_TIMEOUT = 4008
    REPLACED = 4009
    TURNED_AWAY = 4010
    REMOVED = 4011
    TOO_MANY_MESSAGES = 4029


class _Signaling:
    """Mixin that gives every signalling error a close decision."""

    close_code: ClassVar[CloseCode | None] = None


class SignalingProtocolError(_Signaling, ProtocolError):
    """The client broke the signalling protocol."""


class SignalingUserError(_Signaling, UserError):
    """Something the person at the client (usually the host) can act on."""


def error_classes() -> tuple[type[TelepracticeError], ...]:
    """Every signalling error class that has its own code."""
    found: list[type[TelepracticeError]] = []
    pending: list[type] = [_Signaling]
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__ and cls not in found:
            found.append(cls)
    return tuple(found)


# --- the frame and its JSON -------------------------------------------------


class FrameTooLarge(SignalingProtocolError):
    status, code, title = 413, "frame-too-large", "The message is larger than the server accepts."
    close_code = CloseCode.MESSAGE_TOO_BIG


class NotJson(SignalingProtocolError):
    status, code, title = 400, "not-json", "The message is not valid UTF-8 JSON."
    close_code = CloseCode.INVALID_PAYLOAD


class DuplicateKey(SignalingProtocolError):
    status, code, title = 400, "duplicate-key", "The message repeats a key, so its meaning is ambiguous."
    close_code = CloseCode.INVALID_PAYLOAD


class UnsupportedVersion(SignalingProtocolError):
    status, code = 400, "unsupported-version"
    title = "The message is for a protocol version this server does not speak."
    close_code = CloseCode.UNSUPPORTED_VERSION


# --- the message's shape (reply, keep open) ---------------------------------


class NotAnObject(SignalingProtocolError):
    status, code, title = 422, "not-an-object", "The message must be a JSON object."


class MissingType(SignalingProtocolError):
    status, code, title = 422, "missing-type", "The message has no type."


class UnknownType(SignalingProtocolError):
    status, code, title = 422, "unknown-type", "The message type is not part of the protocol."


class UnknownField(SignalingProtocolError):
    status, code, title = 422, "unknown-field", "The message has a field its type does not define."


class InvalidField(SignalingProtocolError):
    status, code, title = 422, "invalid-field", "A field of the message is missing or has a wrong value."


class FieldTooLong(SignalingProtocolError):
    status, code, title = 422, "field-too-long", "A field of the message is longer than the server accepts."


# --- the connection (raised by the transport) -------------------------------


class HelloRequired(SignalingProtocolError):
    status, code, title = 401, "hello-required", "The first message on a connection must be hello."
    close_code = CloseCode.NOT_AUTHENTICATED


class NotAuthenticated(SignalingProtocolError):
    status, code, title = 401, "not-authenticated", "A valid join or access token is required."
    close_code = CloseCode.NOT_AUTHENTICATED


class RateLimited(SignalingProtocolError):
    status, code, title = 429, "rate-limited", "Too many messages; this one was dropped."


class TooManyMessages(SignalingProtocolError):
    status, code, title = 429, "too-many-messages", "The connection kept sending over its budget and was closed."
    close_code = CloseCode.TOO_MANY_MESSAGES


# --- the room: who may do what, to whom -------------------------------------


class WrongRoom(SignalingProtocolError):
    status, code, title = 403, "wrong-room", "The token is for another session."
    close_code = CloseCode.FORBIDDEN


class HostTaken(SignalingUserError):
    status, code, title = 403, "host-taken", "Another worker is already the host of this session."
    close_code = CloseCode.FORBIDDEN


class SessionEnded(SignalingUserError):
    status, code, title = 410, "session-ended", "The session has ended."
    close_code = CloseCode.SESSION_ENDED


class StaleConnection(SignalingProtocolError):
    status, code, title = 409, "stale-connection", "Another connection has taken over this participant."
    close_code = CloseCode.REPLACED


class AlreadyJoined(SignalingProtocolError):
    status, code, title = 409, "already-joined", "This connection has already joined the session."


class NotHost(SignalingProtocolError):
    status, code, title = 403, "not-host", "Only the host of the session may do this."


class NotAdmitted(SignalingProtocolError):
    status, code, title = 403, "not-admitted", "Only participants admitted to the session may do this."


class UnknownParticipant(SignalingProtocolError):
    status, code, title = 404, "unknown-participant", "There is no such participant in this session."


class InvalidTarget(SignalingProtocolError):
    status, code, title = 422, "invalid-target", "This action cannot be addressed to that participant."


class PeerUnavailable(SignalingUserError):
    status, code, title = 409, "peer-unavailable", "That participant is not connected to the session right now."


class PeerApart(SignalingProtocolError):
    status, code, title = 403, "peer-apart", "That participant is in another side room."


class UnknownSideRoom(SignalingProtocolError):
    status, code, title = 404, "unknown-side-room", "There is no such side room in this session."


class WrongState(SignalingProtocolError):
    status, code, title = 409, "wrong-state", "This action does not apply to the participant's current state."


class RoomFull(SignalingUserError):
    status, code, title = 409, "room-full", "The session already has as many participants as a call can hold."


class ConsentMissing(SignalingUserError):
    status, code = 403, "consent-missing"
    title = "This family member's consent is not on record, so they cannot be admitted."


# --- the safety signal ------------------------------------------------------


class FamilyOnly(SignalingProtocolError):
    status, code, title = 403, "family-only", "Only family members ask for help this way."


class StaffOnly(SignalingProtocolError):
    status, code, title = 403, "staff-only", "Only staff of the session may do this."


class UnknownAlert(SignalingProtocolError):
    status, code, title = 404, "unknown-alert", "There is no such safety alert in this session."


class HelpLimited(SignalingUserError):
    status, code = 429, "help-limited"
    title = "Help was asked for many times in a short while; staff already have the earlier requests."


# --- the text chat ----------------------------------------------------------


class ChatLimited(SignalingUserError):
    status, code = 429, "chat-limited"
    title = "Chat messages are arriving too fast; wait a moment and send this one again."


class JoinCodeRequired(SignalingProtocolError):
    status, code, title = 401, "join-code-required", "This link needs its join code first (POST /api/join/code)."
    close_code = CloseCode.NOT_AUTHENTICATED
