"""Inbound signalling messages: typed, frozen, and checked completely on arrival.

``parse()`` turns one WebSocket frame into one of the dataclasses below or
raises a ``SignalingProtocolError``; nothing downstream ever sees raw JSON.
Each field's limits are declared next to it, and ``docs/protocol.md`` lists
them for clients.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn

import orjson

from telepractice.signaling.errors import (
    DuplicateKey,
    FieldTooLong,
    FrameTooLarge,
    InvalidField,
    MissingType,
    NotAnObject,
    NotJson,
    UnknownField,
    UnknownType,
    UnsupportedVersion,
)

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_SDP_CHARS = 60_000
MAX_CANDIDATE_CHARS = 1024
MAX_ID_CHARS = 64
MAX_TOKEN_CHARS = 4096
MAX_NONCE = 2**53 - 1  # the largest integer JavaScript holds exactly
MAX_CHAT_CHARS = 1000  # one chat message, after trimming: a few sentences, never a document
MAX_ROOM_PARTICIPANTS = 6
# Timings the transport keeps (documented with the rest in docs/protocol.md).
HELLO_TIMEOUT_SECONDS = 10.0
PING_INTERVAL_SECONDS = 5.0
SILENCE_TIMEOUT_SECONDS = 20.0

_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]+")
_ID_MATCH = _ID_PATTERN.fullmatch


@dataclasses.dataclass(frozen=True)
class Spec:
    """What one field of an inbound message may hold."""

    kind: type  # str, bool, int or tuple (a list of ids)
    max_length: int = MAX_ID_CHARS
    min_length: int = 1
    is_id: bool = False
    nullable: bool = False
    minimum: int = 0
    maximum: int = MAX_NONCE
    max_items: int = MAX_ROOM_PARTICIPANTS
    trim: bool = False  # leading and trailing white space is dropped before the length is checked


def _spec(spec: Spec, **field_options: Any) -> Any:
    return dataclasses.field(metadata={"spec": spec}, **field_options)


_ID = Spec(str, is_id=True)
_IDS = Spec(tuple, is_id=True)
_FLAG = Spec(bool)
_SDP = Spec(str, max_length=MAX_SDP_CHARS)
_NONCE = Spec(int)


@dataclasses.dataclass(frozen=True, slots=True)
class Hello:
    """First message on a connection: authenticate and join the token's session."""

    TYPE: ClassVar[str] = "hello"
    token: str = _spec(Spec(str, max_length=MAX_TOKEN_CHARS))


@dataclasses.dataclass(frozen=True, slots=True)
class Admit:
    """Host: let a participant in from the waiting room."""

    TYPE: ClassVar[str] = "admit"
    participant: str = _spec(_ID)


@dataclasses.dataclass(frozen=True, slots=True)
class TurnAway:
    """Host: refuse a participant who is waiting."""

    TYPE: ClassVar[str] = "turn-away"
    participant: str = _spec(_ID)


@dataclasses.dataclass(frozen=True, slots=True)
class SendToWaitingRoom:
    """Host: send an admitted participant back to the waiting room."""

    TYPE: ClassVar[str] = "send-to-waiting-room"
    participant: str = _spec(_ID)


@dataclasses.dataclass(frozen=True, slots=True)
class MediaState:
    """The sender's microphone, camera and screen share are on or off."""

    TYPE: ClassVar[str] = "media-state"
    audio: bool = _spec(_FLAG)
    video: bool = _spec(_FLAG)
    screen: bool = _spec(_FLAG, default=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    """An SDP offer for one named peer in the same room and side room."""

    TYPE: ClassVar[str] = "offer"
    to: str = _spec(_ID)
    sdp: str = _spec(_SDP)


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """An SDP answer for one named peer in the same room and side room."""

    TYPE: ClassVar[str] = "answer"
    to: str = _spec(_ID)
    sdp: str = _spec(_SDP)


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """A trickled ICE candidate for one named peer; an empty candidate ends the trickle."""

    TYPE: ClassVar[str] = "candidate"
    to: str = _spec(_ID)
    candidate: str = _spec(Spec(str, max_length=MAX_CANDIDATE_CHARS, min_length=0))
    sdp_mid: str | None = _spec(Spec(str, nullable=True, min_length=0), default=None)
    sdp_mline_index: int | None = _spec(Spec(int, nullable=True, maximum=255), default=None)
    username_fragment: str | None = _spec(Spec(str, nullable=True, max_length=256, min_length=0), default=None)


@dataclasses.dataclass(frozen=True, slots=True)
class SideRoomCreate:
    """Host: take one or more admitted participants aside into a new side room."""

    TYPE: ClassVar[str] = "side-room-create"
    participants: tuple[str, ...] = _spec(_IDS)


@dataclasses.dataclass(frozen=True, slots=True)
class SideRoomMove:
    """Host: move one admitted participant into an existing side room."""

    TYPE: ClassVar[str] = "side-room-move"
    participant: str = _spec(_ID)
    side_room: str = _spec(_ID)


@dataclasses.dataclass(frozen=True, slots=True)
class SideRoomReturn:
    """Host: bring participants back from their side rooms to the main room."""

    TYPE: ClassVar[str] = "side-room-return"
    participants: tuple[str, ...] = _spec(_IDS)


@dataclasses.dataclass(frozen=True, slots=True)
class EndSession:
    """Host: end the session for everyone."""

    TYPE: ClassVar[str] = "end-session"


@dataclasses.dataclass(frozen=True, slots=True)
class Leave:
    """The sender leaves the session on purpose (no reconnection grace)."""

    TYPE: ClassVar[str] = "leave"


@dataclasses.dataclass(frozen=True, slots=True)
class IceServers:
    """In the call: send me fresh ICE servers (new TURN credentials) before an ICE restart."""

    TYPE: ClassVar[str] = "ice-servers"


@dataclasses.dataclass(frozen=True, slots=True)
class Help:
    """Family: ask the session's staff for help, unseen by anyone else in the call."""

    TYPE: ClassVar[str] = "help"


@dataclasses.dataclass(frozen=True, slots=True)
class HelpAcknowledge:
    """Staff: I have seen this safety alert and am dealing with it."""

    TYPE: ClassVar[str] = "help-acknowledge"
    alert: str = _spec(_ID)


@dataclasses.dataclass(frozen=True, slots=True)
class Chat:
    """A line of text chat to everyone in the sender's part of the call (main room or side room)."""

    TYPE: ClassVar[str] = "chat"
    text: str = _spec(Spec(str, max_length=MAX_CHAT_CHARS, trim=True))


@dataclasses.dataclass(frozen=True, slots=True)
class Ping:
    """Are you there? The other side answers pong with the same nonce."""

    TYPE: ClassVar[str] = "ping"
    nonce: int = _spec(_NONCE)


@dataclasses.dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a ping, with its nonce."""

    TYPE: ClassVar[str] = "pong"
    nonce: int = _spec(_NONCE)


InboundMessage = (
    Hello
    | Admit
    | TurnAway
    | SendToWaitingRoom
    | MediaState
    | Offer
    | Answer
    | Candidate
    | SideRoomCreate
    | SideRoomMove
    | SideRoomReturn
    | EndSession
    | Leave
    | IceServers
    | Help
    | HelpAcknowledge
    | Chat
    | Ping
    | Pong
)

INBOUND: Mapping[str, type[InboundMessage]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Admit,
        TurnAway,
        SendToWaitingRoom,
        MediaState,
        Offer,
        Answer,
        Candidate,
        SideRoomCreate,
        SideRoomMove,
        SideRoomReturn,
        EndSession,
        Leave,
        IceServers,
        Help,
        HelpAcknowledge,
        Chat,
        Ping,
        Pong,
    )
}

_ENVELOPE = frozenset({"v", "type"})


def parse(raw: str | bytes) -> InboundMessage:
    """One frame (its UTF-8 bytes, or text) as a typed message, or a SignalingProtocolError."""
    # The checks are inlined where a message that passes them would otherwise pay a call for each (the
    # relayed offers and candidates, bench/README.md); each failure still goes to the function that says why.
    # The socket hands frames over as the bytes that came in (frame_queue.py), which orjson reads as they are.
    kind = type(raw)
    if not (kind is bytes and len(raw) <= MAX_FRAME_BYTES or kind is str and len(raw) <= _SURELY_SMALL_CHARS):
        raw = _within_size(raw)
    document = _load_json(raw)
    if type(document) is not dict:
        raise NotAnObject()
    version = document.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise _unsupported(version)
    name = document.get("type")
    read = _READERS.get(name) if type(name) is str else None
    if read is None:
        _refuse_type(document)
    return read(document)


# A str frame this short is within MAX_FRAME_BYTES whatever it holds (a character is at most 4 bytes in UTF-8).
_SURELY_SMALL_CHARS = MAX_FRAME_BYTES // 4


def _within_size(raw: str | bytes) -> str | bytes:
    """The frame, refused when it is over MAX_FRAME_BYTES in UTF-8."""
    # A character is at most 4 bytes: text is encoded only when it might be too big.
    if len(raw) > MAX_FRAME_BYTES or (type(raw) is str and len(raw) * 4 > MAX_FRAME_BYTES and
                                      _utf8_length(raw) > MAX_FRAME_BYTES):
        raise FrameTooLarge(f"The message is over {MAX_FRAME_BYTES} bytes.")
    return raw


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)  # built in C; a key given twice makes it shorter than the pairs
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"The key '{_shown(key)}' appears more than once.", field=_shown(key))
            seen.add(key)
    return document


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number.")


# The exact decoder: json.loads with options builds a new JSONDecoder per call, so one is kept.
_DECODER = json.JSONDecoder(object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)


_SCAN = _DECODER.scan_once


def _load_json(frame: str | bytes) -> Any:
    """The frame's JSON, refusing a key given twice in any object.

    orjson decodes three times faster than the standard module but keeps the last
    of two equal keys without a word. So its result is used only when writing it
    back gives the frame's own bytes exactly: text that is the serialisation
    of a decoded document cannot hold a key twice. A browser's JSON.stringify
    writes what orjson writes, so real frames take this path; anything else (white
    space, escapes it would write otherwise, a key twice, what orjson cannot read,
    bytes that are not UTF-8) goes to the exact decoder, which also says what is wrong.
    """
    try:
        document = orjson.loads(frame)
        if orjson.dumps(document) == (frame.encode() if type(frame) is str else frame):
            return document
    except (orjson.JSONDecodeError, TypeError, UnicodeEncodeError):
        pass  # the exact decoder below finds the same fault and raises the error that says where
    return _load_json_exactly(frame if type(frame) is str else _utf8_text(frame))


def _utf8_text(frame: bytes) -> str:
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotJson("The message is not valid UTF-8.") from error


def _load_json_exactly(text: str) -> Any:
    if text.startswith("{"):
        # What decode() does, without its two passes for white space around a message that has none.
        try:
            document, end = _SCAN(text, 0)
            if end == len(text):
                return document
        except (ValueError, RecursionError, StopIteration):
            pass  # decode() below finds the same fault and raises the error that says where
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        # ValueError covers JSONDecodeError and integers too long to convert.
        raise NotJson() from error


def _unsupported(version: Any) -> UnsupportedVersion:
    return UnsupportedVersion(
        f"This server speaks version {PROTOCOL_VERSION}; the message says {_shown(version)}.",
        supported=PROTOCOL_VERSION,
    )


def _refuse_type(document: dict[str, Any]) -> NoReturn:
    """The error for a message whose type is missing or names no message."""
    if "type" not in document:
        raise MissingType()
    name = document["type"]
    if not isinstance(name, str):
        raise UnknownType("The message type must be a string.")
    raise UnknownType(f"There is no message type '{_shown(name)}'.")


_ABSENT = object()  # what a reader's document.get returns for a field the message left out


def _reader_of(cls: type[InboundMessage]) -> Callable[[dict[str, Any]], InboundMessage]:
    """A function that builds a ``cls`` message from a decoded document, checking each field on the way.

    Generated once per class, as dataclasses generates ``__init__``: every relayed offer and candidate
    passes here, and straight-line code with each field's limits written in as constants costs 0.8 us less
    a candidate than a loop over a table of them followed by the frozen ``__init__`` (bench/README.md).
    What a valid value passes is checked in line: ASCII text within its lengths (an id also of its
    characters) or an integer within its range. Anything else, valid or not, and a field left out, goes to
    ``_field``, which gives the default or the checked value, or says exactly what is wrong. The message is
    built through its slots, as the frozen ``__init__`` does: it is frozen all the same once returned.
    """
    assert "__post_init__" not in vars(cls), cls  # never called here
    fields = dataclasses.fields(cls)
    names = frozenset(field.name for field in fields) | _ENVELOPE
    scope: dict[str, Any] = {
        "_new": object.__new__, "_cls": cls, "_names": names, "_allowed": names.issuperset,
        "_unknown_field": _unknown_field, "_field": _field, "_ABSENT": _ABSENT, "_ID_MATCH": _ID_MATCH,
    }
    body = ["    if not _allowed(document):", "        _unknown_field(_cls, _names, document)",
            "    message = _new(_cls)", "    get = document.get"]
    for number, field in enumerate(fields):
        assert field.default_factory is dataclasses.MISSING, (cls, field.name)
        spec: Spec = field.metadata["spec"]
        scope |= {f"_set{number}": getattr(cls, field.name).__set__, f"_spec{number}": spec,
                  f"_default{number}": field.default}
        slow = f"_field({field.name!r}, value, _spec{number}, _default{number})"
        body.append(f"    value = get({field.name!r}, _ABSENT)")
        body.append(f"    _set{number}(message, value if {_quick_check(spec)} else {slow})")
    body.append("    return message")
    name = "read_" + cls.TYPE.replace("-", "_")
    exec("\n".join([f"def {name}(document):", *body]), scope)  # noqa: S102  # only the constants above
    return scope[name]  # type: ignore[no-any-return]


def _quick_check(spec: Spec) -> str:
    """The in-line test a valid value of ``spec`` passes, as Python source over ``value``."""
    if spec.kind is str and not spec.trim:
        text = f"type(value) is str and {spec.min_length} <= len(value) <= {spec.max_length} and value.isascii()"
        return text + " and _ID_MATCH(value) is not None" if spec.is_id else text
    if spec.kind is int:
        return f"type(value) is int and {spec.minimum} <= value <= {spec.maximum}"
    return "False"  # lists of ids, flags, text trimmed first: _checked alone decides


def _field(name: str, value: Any, spec: Spec, default: Any) -> Any:
    if value is _ABSENT:
        if default is dataclasses.MISSING:
            raise InvalidField(f"'{name}' is required.", field=name)
        return default
    return _checked(name, value, spec)


def _unknown_field(cls: type[InboundMessage], allowed: frozenset[str], document: dict[str, Any]) -> NoReturn:
    key = next(key for key in document if key not in allowed)
    raise UnknownField(f"Messages of type '{cls.TYPE}' have no field '{_shown(key)}'.", field=_shown(key))


_READERS: Mapping[str, Callable[[dict[str, Any]], InboundMessage]] = {
    name: _reader_of(cls) for name, cls in INBOUND.items()
}


def _checked(name: str, value: Any, spec: Spec) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise InvalidField(f"'{name}' may not be null.", field=name)
    if spec.kind is tuple:
        return _checked_ids(name, value, spec)
    # bool is an int in Python; JSON true is not a number.
    if type(value) is not spec.kind:
        raise InvalidField(f"'{name}' must be {_KIND_NAMES[spec.kind]}.", field=name)
    if isinstance(value, str):
        return _checked_text(name, value, spec)
    if isinstance(value, int) and not isinstance(value, bool) and not spec.minimum <= value <= spec.maximum:
        raise InvalidField(f"'{name}' must be from {spec.minimum} to {spec.maximum}.", field=name)
    return value


_KIND_NAMES = {str: "a string", bool: "true or false", int: "an integer"}


def _checked_text(name: str, value: str, spec: Spec) -> str:
    if spec.trim:
        value = value.strip()
    if len(value) > spec.max_length:
        raise FieldTooLong(f"'{name}' is longer than {spec.max_length} characters.", field=name)
    if len(value) < spec.min_length:
        raise InvalidField(f"'{name}' may not be empty.", field=name)
    if spec.is_id and not _ID_PATTERN.fullmatch(value):
        raise InvalidField(f"'{name}' must be an id of letters, digits and . _ : -", field=name)
    if value.isascii():  # O(1) in CPython: most text (ids, SDP, candidates) is ASCII and needs no encoding
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        # json.loads accepts a lone surrogate escape such as "\ud800".
        raise InvalidField(f"'{name}' holds text that is not valid Unicode.", field=name) from error
    return value


def _checked_ids(name: str, value: Any, spec: Spec) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidField(f"'{name}' must be a list of participant ids.", field=name)
    if not 1 <= len(value) <= spec.max_items:
        raise InvalidField(f"'{name}' must hold 1 to {spec.max_items} ids.", field=name)
    item_spec = dataclasses.replace(spec, kind=str)
    ids = tuple(_checked(name, item, item_spec) for item in value)
    if len(set(ids)) != len(ids):
        raise InvalidField(f"'{name}' names a participant more than once.", field=name)
    return ids


def _shown(value: Any) -> str:
    """A short, printable rendering of client input for an error detail."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = json.dumps(value)
    else:
        text = "an " + type(value).__name__ if isinstance(value, dict) else "a " + type(value).__name__
    text = text.encode("ascii", errors="backslashreplace").decode("ascii")
    return text if len(text) <= 40 else text[:40] + "..."
