"""Outbound signalling messages, built by pure functions; ``dump()`` writes one as UTF-8 JSON.

Building a message is kept apart from sending it: the room calls these and
hands the dicts to its peers; the transport calls ``dump()`` once per frame.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from telepractice.errors import TelepracticeError
from telepractice.signaling.errors import CloseCode
from telepractice.signaling.messages import PROTOCOL_VERSION, Candidate

Message = dict[str, Any]


class WaitingReason(enum.StrEnum):
    HOST_ABSENT = "host-absent"
    AWAITING_ADMISSION = "awaiting-admission"
    SENT_BACK = "sent-back"


class PresenceEvent(enum.StrEnum):
    JOINED = "joined"
    LEFT = "left"
    DROPPED = "dropped"
    RECONNECTED = "reconnected"
    MEDIA = "media"


class Departure(enum.StrEnum):
    """Why someone is no longer in the room or the waiting room."""

    LEFT = "left"
    TIMED_OUT = "timed-out"
    DROPPED = "dropped"
    ADMITTED = "admitted"
    TURNED_AWAY = "turned-away"
    SENT_TO_WAITING_ROOM = "sent-to-waiting-room"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    LINK_REVOKED = "link-revoked"  # the worker revoked the personal link the person came in on
    ENDED_BY_HOST = "ended-by-host"
    ENDED = "ended"


def _message(kind: str, **fields: Any) -> Message:
    return {"v": PROTOCOL_VERSION, "type": kind, **fields}


def welcome(you: Mapping[str, Any], room: str, limits: Mapping[str, Any]) -> Message:
    """First answer to hello: who you are in which session, and the limits that apply."""
    return _message("welcome", you=dict(you), room=room, limits=dict(limits))


def waiting(reason: WaitingReason) -> Message:
    """You are in the waiting room (again, if the reason changed)."""
    return _message("waiting", reason=str(reason))


def participant_waiting(participant: Mapping[str, Any]) -> Message:
    """To the host: someone is in the waiting room."""
    return _message("participant-waiting", participant=dict(participant))


def participant_left_waiting(participant_id: str, reason: Departure) -> Message:
    """To the host: someone is no longer in the waiting room."""
    return _message("participant-left-waiting", participant=participant_id, reason=str(reason))


def admitted(
    participants: Iterable[Mapping[str, Any]],
    call: Iterable[str],
    side_room: str | None,
    side_rooms: Mapping[str, Iterable[str]],
) -> Message:
    """You are in the session: who is there, and whom you should send offers to."""
    return _message(
        "admitted",
        participants=[dict(view) for view in participants],
        call=list(call),
        side_room=side_room,
        side_rooms={name: list(ids) for name, ids in side_rooms.items()},
    )


def turned_away() -> Message:
    """The host did not let you in; the server closes the connection next."""
    return _message("turned-away")


def presence(event: PresenceEvent, participant: Mapping[str, Any], reason: Departure | None = None) -> Message:
    """To everyone admitted: someone joined, left, dropped, came back or changed their media."""
    shown_reason = None if reason is None else str(reason)
    return _message("presence", event=str(event), participant=dict(participant), reason=shown_reason)


# The three relayed kinds are most of what the server sends: built as literals, not through _message's keywords.
def relayed_offer(sender: str, sdp: str) -> Message:
    return {"v": PROTOCOL_VERSION, "type": "offer", "from": sender, "sdp": sdp}


def relayed_answer(sender: str, sdp: str) -> Message:
    return {"v": PROTOCOL_VERSION, "type": "answer", "from": sender, "sdp": sdp}


def relayed_candidate(sender: str, candidate: Candidate) -> Message:
    return {
        "v": PROTOCOL_VERSION,
        "type": "candidate",
        "from": sender,
        "candidate": candidate.candidate,
        "sdp_mid": candidate.sdp_mid,
        "sdp_mline_index": candidate.sdp_mline_index,
        "username_fragment": candidate.username_fragment,
    }


def side_room_changed(
    side_rooms: Mapping[str, Iterable[str]],
    side_room: str | None,
    hang_up: Iterable[str],
    call: Iterable[str],
) -> Message:
    """Side rooms changed: where everyone is, whom to hang up on, whom to call."""
    return _message(
        "side-room-changed",
        side_rooms={name: list(ids) for name, ids in side_rooms.items()},
        side_room=side_room,
        hang_up=list(hang_up),
        call=list(call),
    )


def bitrate(max_kbps: int, peers: int) -> Message:
    """The most each of your outgoing video streams may send, for this many peers."""
    return _message("bitrate", max_kbps=max_kbps, peers=peers)


def session_ended(reason: Departure) -> Message:
    return _message("session-ended", reason=str(reason))


def removed(reason: Departure) -> Message:
    """You were taken out of the session (for example, consent was withdrawn)."""
    return _message("removed", reason=str(reason))


def replaced() -> Message:
    """Another connection of yours took over; this one closes next."""
    return _message("replaced")


def help_requested(alert: str, participant: Mapping[str, Any], pending: int) -> Message:
    """To staff only: a family member asked for help; ``pending`` alerts are not yet acknowledged."""
    return _message("help-requested", alert=alert, participant=dict(participant), pending=pending)


def help_acknowledged(alert: str, participant: str, by: str, pending: int) -> Message:
    """To staff only: a member of staff has acknowledged a safety alert."""
    return _message("help-acknowledged", alert=alert, participant=participant, by=by, pending=pending)


def time_warning(planned_end: str, minutes_left: int) -> Message:
    """To the host: the session's planned end is near (sent once, five minutes before it)."""
    return _message("time-warning", planned_end=planned_end, minutes_left=minutes_left)


def chat(sender: str, text: str, at: str, side_room: str | None) -> Message:
    """A chat line, to everyone in the sender's part of the call, sender included; the server keeps no copy."""
    return _message("chat", **{"from": sender}, text=text, at=at, side_room=side_room)


def ice_servers(servers: Iterable[Mapping[str, Any]] = (), expires_at: int | None = None) -> Message:
    """Fresh ICE servers for an ICE restart; the transport fills in TURN credentials when it has them."""
    return _message("ice-servers", ice_servers=[dict(server) for server in servers], expires_at=expires_at)


def ping(nonce: int) -> Message:
    return _message("ping", nonce=nonce)


def pong(nonce: int) -> Message:
    return _message("pong", nonce=nonce)


def error(problem: TelepracticeError, refused: str | None = None) -> Message:
    """The error for a refused message; ``closing`` says whether the socket closes next."""
    close_code: CloseCode | None = getattr(problem, "close_code", None)
    message = _message(
        "error",
        code=problem.code,
        title=problem.title,
        detail=problem.detail,
        refused=refused,
        closing=close_code is not None,
    )
    for key, value in problem.extra.items():
        message.setdefault(key, value)
    return message


OUTBOUND_TYPES = (
    "welcome",
    "waiting",
    "participant-waiting",
    "participant-left-waiting",
    "admitted",
    "turned-away",
    "presence",
    "offer",
    "answer",
    "candidate",
    "side-room-changed",
    "bitrate",
    "session-ended",
    "removed",
    "replaced",
    "help-requested",
    "help-acknowledged",
    "time-warning",
    "chat",
    "ice-servers",
    "ping",
    "pong",
    "error",
)


def _not_json(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} is not JSON")


# orjson writes dataclasses and datetimes by itself, but no message holds one: passed to _not_json instead, so
# one handed over by mistake (a participant record, say) fails loudly rather than going out field by field.
_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def dump(message: Mapping[str, Any]) -> bytes:
    """One outbound message as compact JSON in UTF-8, the payload of a text frame.

    orjson, because every frame the server sends passes through here: a relayed 4 KB offer costs 0.3 us
    against the standard module's 10 us. Non-ASCII text stays UTF-8; a NaN or an infinity (no builder makes
    one) is written as null, so the text is always JSON a browser can parse.
    """
    return orjson.dumps(message, default=_not_json, option=_DUMP_OPTIONS)
