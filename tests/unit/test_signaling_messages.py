"""Inbound messages are parsed completely on arrival; outbound ones are plain dicts that dump to JSON."""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
from typing import Any

import pytest

from telepractice.errors import ProtocolError, UserError
from telepractice.signaling import messages, outbound
from telepractice.signaling.errors import CloseCode, error_classes
from telepractice.signaling.messages import (
    INBOUND,
    MAX_CANDIDATE_CHARS,
    MAX_FRAME_BYTES,
    MAX_ID_CHARS,
    MAX_SDP_CHARS,
    MAX_TOKEN_CHARS,
    Candidate,
    Offer,
    SideRoomCreate,
    parse,
)

VALID: dict[str, dict[str, Any]] = {
    "hello": {"token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
    "admit": {"participant": "p-1"},
    "turn-away": {"participant": "p-1"},
    "send-to-waiting-room": {"participant": "p-1"},
    "media-state": {"audio": True, "video": False},
    "offer": {"to": "p-1", "sdp": "v=0\r\n"},
    "answer": {"to": "p-1", "sdp": "v=0\r\n"},
    "candidate": {"to": "p-1", "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host"},
    "side-room-create": {"participants": ["p-1", "p-2"]},
    "side-room-move": {"participant": "p-1", "side_room": "side-1"},
    "side-room-return": {"participants": ["p-1"]},
    "end-session": {},
    "leave": {},
    "ice-servers": {},
    "help": {},
    "help-acknowledge": {"alert": "0b7c6d1e-5f2a-4c3b-9d8e-7f6a5b4c3d2e"},
    "chat": {"text": "Olá, consegue ouvir-me?"},
    "ping": {"nonce": 7},
    "pong": {"nonce": 7},
}


def frame(kind: str | None = None, **fields: Any) -> str:
    message: dict[str, Any] = {"v": 1}
    if kind is not None:
        message["type"] = kind
    message.update(fields)
    # Compact, as a browser's JSON.stringify writes it: the text parse() reads without the exact decoder.
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def refused(raw: str | bytes) -> Any:
    with pytest.raises(ProtocolError) as caught:
        parse(raw)
    return caught.value


def test_every_message_type_has_an_example_here() -> None:
    assert set(VALID) == set(INBOUND)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_inbound_type_parses_from_a_minimal_valid_message(kind: str) -> None:
    message = parse(frame(kind, **VALID[kind]))
    assert type(message) is INBOUND[kind]
    assert kind == message.TYPE


def test_bytes_frames_are_read_as_utf8() -> None:
    message = parse(frame("offer", to="p-1", sdp="s=Sessão\r\n").encode("utf-8"))
    assert message == Offer(to="p-1", sdp="s=Sessão\r\n")


def test_participant_lists_become_tuples() -> None:
    assert parse(frame("side-room-create", participants=["a", "b"])) == SideRoomCreate(participants=("a", "b"))


def test_optional_candidate_fields_default_to_none_and_an_empty_candidate_ends_the_trickle() -> None:
    message = parse(frame("candidate", to="p-1", candidate=""))
    assert message == Candidate(to="p-1", candidate="", sdp_mid=None, sdp_mline_index=None, username_fragment=None)
    full = parse(frame("candidate", to="p-1", candidate="c", sdp_mid="0", sdp_mline_index=0, username_fragment="abcd"))
    assert full == Candidate(to="p-1", candidate="c", sdp_mid="0", sdp_mline_index=0, username_fragment="abcd")


def test_screen_share_defaults_to_off() -> None:
    assert parse(frame("media-state", audio=False, video=True)).screen is False


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_parsed_message_is_the_one_its_constructor_builds_and_frozen(kind: str) -> None:
    # parse builds messages through their slots, not __init__ (messages.py _reader_of).
    message = parse(frame(kind, **VALID[kind]))
    values = {field.name: getattr(message, field.name) for field in dataclasses.fields(message)}
    for name, given in VALID[kind].items():
        assert values[name] == (tuple(given) if isinstance(given, list) else given), name
    rebuilt = type(message)(**values)
    assert (message, hash(message), repr(message)) == (rebuilt, hash(rebuilt), repr(rebuilt))
    for name, value in values.items():
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(message, name, value)


# --- the frame and its JSON -------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["", " ", "{", "nope", "{'v': 1}", '{"v":1,"type":"leave"}x', '{"v":1,"type":"leave",}', "\ufeff{}", "\x00"],
)
def test_text_that_is_not_json_is_refused_and_closes_the_socket(raw: str) -> None:
    error = refused(raw)
    assert (error.code, error.close_code) == ("not-json", CloseCode.INVALID_PAYLOAD)


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"v":1,"type":"\xc3"}', b"\xed\xa0\x80"])
def test_bytes_that_are_not_utf8_are_refused(raw: bytes) -> None:
    assert refused(raw).code == "not-json"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    assert refused('{"v":1,"type":"ping","nonce":' + constant + "}").code == "not-json"


def test_integers_too_long_to_convert_are_refused() -> None:
    assert refused('{"v":1,"type":"ping","nonce":' + "9" * 5000 + "}").code == "not-json"


def test_deeply_nested_json_is_refused_without_crashing() -> None:
    depth = MAX_FRAME_BYTES // 2 - 10
    assert refused("[" * depth + "]" * depth).code == "not-json"


@pytest.mark.parametrize(
    "raw",
    [
        '{"v":1,"type":"leave","type":"end-session"}',
        '{"v":1,"v":1,"type":"leave"}',
        '{"v":1,"type":"offer","to":"a","to":"b","sdp":"x"}',
        '{"v":1,"type":"ping","nonce":1,"extra":{"a":1,"a":2}}',
    ],
)
def test_duplicate_keys_are_refused_even_when_nested(raw: str) -> None:
    error = refused(raw)
    assert (error.code, error.close_code) == ("duplicate-key", CloseCode.INVALID_PAYLOAD)


def _json_texts() -> list[str]:
    """Documents written every way a client might, compact and not, each also with one of its keys given twice."""
    rng = random.Random(20261124)
    words = ["", "a", "v", "to", "é", "€", "😀", "\u2028", "/", "\\", '"', "\x00", "\x1f", "\x7f", "a:b", '"a":1']
    numbers = [0, -0.0, 1, -1, 255, 2**53 + 1, 2**63, 2**64 + 1, 10**30, 1.0, 0.1, 1e21, 1.5e-7, -2.5]

    def value(depth: int) -> Any:
        pick = rng.randrange(9 if depth < 3 else 6)
        if pick < 2:
            return rng.choice(words) * rng.randrange(1, 3)
        if pick < 4:
            return rng.choice(numbers)
        if pick == 4:
            return rng.choice([True, False])
        if pick == 5:
            return None
        if pick == 6:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        return obj(depth + 1)

    def obj(depth: int) -> dict[str, Any]:
        return {rng.choice(words + ["type", "sdp", "k" + str(n)]): value(depth) for n in range(rng.randrange(4))}

    texts = ['{"v":1,"type":"ping","nonce":-0}', '{"v":1,"type":"ping","nonce":1E2}', '{"a":"\\u00e9"}',
             '{"a":"\\/"}', '{"a":"\\ud83d\\ude00"}', '{"a":"\\ud800"}', '{"a":1}\n', ' {"a":1}']
    for _ in range(600):
        document = obj(0)
        compact = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        texts += [compact, json.dumps(document), json.dumps(document, separators=(",", ":"))]
        if document:
            key = json.dumps(rng.choice(list(document)), ensure_ascii=False)
            texts.append(compact[:-1] + "," + key + ":" + json.dumps(value(2), separators=(",", ":")) + "}")
            texts.append("{" + key + ":0," + compact[1:])
    return texts


def _decoded(load: Any, text: str) -> tuple[str, Any]:
    """What a decoder makes of the text, with every value's type, or the error it gives."""
    try:
        document = load(text)
    except ProtocolError as error:
        return "refused", error.code
    return "decoded", _typed(document)


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("object", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("array", [_typed(item) for item in value])
    return (type(value).__name__, repr(value))


def test_the_fast_json_path_decodes_every_text_exactly_as_the_exact_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _json_texts()
    exact = messages._load_json_exactly
    handed_over: list[str] = []
    monkeypatch.setattr(messages, "_load_json_exactly", lambda text: handed_over.append(text) or exact(text))
    for text in texts:
        assert _decoded(messages._load_json, text) == _decoded(exact, text), text
    # The corpus reaches both paths, and a key given twice always reaches the exact one.
    assert 300 < len(texts) - len(handed_over) < len(texts) - 300
    assert sum(1 for text in texts if _decoded(exact, text) == ("refused", "duplicate-key")) > 300


def test_a_browsers_compact_frame_never_needs_the_exact_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages, "_load_json_exactly", lambda text: pytest.fail(f"exact decoder used for {text}"))
    for kind, fields in VALID.items():
        assert parse(frame(kind, **fields)).TYPE == kind
        # As the socket hands it over: the frame's bytes.
        assert parse(frame(kind, **fields).encode()) == parse(frame(kind, **fields))
    assert parse(frame("chat", text="Olá 😀 \"quoted\" \\ \n")).TYPE == "chat"
    assert parse(frame("chat", text="Olá 😀 \"quoted\" \\ \n").encode()).TYPE == "chat"


def test_frames_as_bytes_are_decoded_and_refused_as_text_is() -> None:
    for text in _json_texts():
        assert _decoded(messages._load_json, text.encode()) == _decoded(messages._load_json, text), text
        assert _outcome(lambda: parse(text.encode())) == _outcome(lambda: parse(text)), text


def test_frames_over_64_kib_are_refused_as_text_and_as_bytes() -> None:
    raw = frame("offer", to="p-1", sdp="x" * MAX_FRAME_BYTES)
    for candidate in (raw, raw.encode()):
        error = refused(candidate)
        assert (error.code, error.close_code) == ("frame-too-large", CloseCode.MESSAGE_TOO_BIG)


def test_frame_size_counts_utf8_bytes_not_characters() -> None:
    # 30,000 characters of three bytes each: under the cap in characters, over it in bytes.
    raw = frame("offer", to="p-1", sdp="€" * 30_000)
    assert len(raw) < MAX_FRAME_BYTES < len(raw.encode())
    assert refused(raw).code == "frame-too-large"


# --- the envelope -----------------------------------------------------------


@pytest.mark.parametrize("document", ["[]", '"offer"', "1", "null", "true", '[{"v":1,"type":"leave"}]'])
def test_json_that_is_not_an_object_is_refused(document: str) -> None:
    error = refused(document)
    assert (error.code, error.close_code) == ("not-an-object", None)


@pytest.mark.parametrize("version", [None, 0, 2, "1", True, 1.0, [1]])
def test_a_missing_or_wrong_protocol_version_is_refused_and_closes(version: Any) -> None:
    document: dict[str, Any] = {"type": "leave"}
    if version is not None:
        document["v"] = version
    error = refused(json.dumps(document))
    assert (error.code, error.close_code) == ("unsupported-version", CloseCode.UNSUPPORTED_VERSION)
    assert error.extra["supported"] == 1


def test_a_message_without_a_type_is_refused() -> None:
    assert refused(frame(None)).code == "missing-type"


@pytest.mark.parametrize("kind", ["nope", "OFFER", "Offer", "__class__", "", 5, None, ["offer"], {"a": 1}])
def test_unknown_or_non_string_types_are_refused_and_the_socket_stays_open(kind: Any) -> None:
    error = refused(json.dumps({"v": 1, "type": kind}))
    assert (error.code, error.close_code) == ("unknown-type", None)


def test_error_details_show_client_input_short_and_printable() -> None:
    error = refused(frame("x" * 1000 + "\u202e\x07"))
    assert len(error.detail) < 120
    assert error.detail.isprintable()


# --- fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("offer", "from"),
        ("answer", "role"),
        ("candidate", "room"),
        ("admit", "as_host"),
        ("leave", "participant"),
        ("end-session", "reason"),
        ("media-state", "participant"),
    ],
)
def test_fields_a_type_does_not_define_are_refused(kind: str, field: str) -> None:
    error = refused(frame(kind, **VALID[kind], **{field: "host-1"}))
    assert (error.code, error.extra["field"]) == ("unknown-field", field)


def test_a_sender_cannot_claim_who_they_are_in_the_payload() -> None:
    assert refused(frame("offer", to="p-2", sdp="v=0", **{"from": "host-1"})).code == "unknown-field"


@pytest.mark.parametrize(
    ("kind", "field"),
    [(kind, field) for kind, fields in VALID.items() for field in fields],
)
def test_every_required_field_is_required(kind: str, field: str) -> None:
    fields = {name: value for name, value in VALID[kind].items() if name != field}
    error = refused(frame(kind, **fields))
    assert (error.code, error.extra["field"]) == ("invalid-field", field)


@pytest.mark.parametrize(
    ("kind", "fields", "bad"),
    [
        ("offer", {"to": 5, "sdp": "v=0"}, "to"),
        ("offer", {"to": "p-1", "sdp": None}, "sdp"),
        ("offer", {"to": "p-1", "sdp": ["v=0"]}, "sdp"),
        ("media-state", {"audio": "true", "video": False}, "audio"),
        ("media-state", {"audio": 1, "video": False}, "audio"),
        ("media-state", {"audio": True, "video": None}, "video"),
        ("ping", {"nonce": True}, "nonce"),
        ("ping", {"nonce": 1.5}, "nonce"),
        ("ping", {"nonce": 1.0}, "nonce"),
        ("ping", {"nonce": "1"}, "nonce"),
        ("side-room-create", {"participants": "p-1"}, "participants"),
        ("side-room-create", {"participants": [1]}, "participants"),
        ("side-room-create", {"participants": [None]}, "participants"),
        ("side-room-create", {"participants": {"p-1": True}}, "participants"),
        ("candidate", {"to": "p-1", "candidate": "c", "sdp_mline_index": True}, "sdp_mline_index"),
        ("candidate", {"to": "p-1", "candidate": "c", "sdp_mid": 0}, "sdp_mid"),
        ("hello", {"token": {"alg": "none"}}, "token"),
    ],
)
def test_fields_of_the_wrong_type_are_refused(kind: str, fields: dict[str, Any], bad: str) -> None:
    error = refused(frame(kind, **fields))
    assert (error.code, error.close_code, error.extra["field"]) == ("invalid-field", None, bad)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("ping", {"nonce": -1}),
        ("ping", {"nonce": 2**53}),
        ("candidate", {"to": "p-1", "candidate": "c", "sdp_mline_index": 256}),
        ("candidate", {"to": "p-1", "candidate": "c", "sdp_mline_index": -1}),
    ],
)
def test_numbers_out_of_range_are_refused(kind: str, fields: dict[str, Any]) -> None:
    assert refused(frame(kind, **fields)).code == "invalid-field"


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("offer", {"to": "p-1", "sdp": "x" * (MAX_SDP_CHARS + 1)}, "sdp"),
        ("candidate", {"to": "p-1", "candidate": "c" * (MAX_CANDIDATE_CHARS + 1)}, "candidate"),
        ("admit", {"participant": "p" * (MAX_ID_CHARS + 1)}, "participant"),
        ("side-room-move", {"participant": "p-1", "side_room": "s" * (MAX_ID_CHARS + 1)}, "side_room"),
        ("side-room-return", {"participants": ["p" * (MAX_ID_CHARS + 1)]}, "participants"),
        ("hello", {"token": "t" * (MAX_TOKEN_CHARS + 1)}, "token"),
        ("candidate", {"to": "p-1", "candidate": "c", "username_fragment": "u" * 257}, "username_fragment"),
    ],
)
def test_oversized_fields_are_refused(kind: str, fields: dict[str, Any], field: str) -> None:
    error = refused(frame(kind, **fields))
    assert (error.code, error.close_code, error.extra["field"]) == ("field-too-long", None, field)


def test_fields_exactly_at_their_limit_are_accepted() -> None:
    assert len(parse(frame("offer", to="p" * MAX_ID_CHARS, sdp="x" * MAX_SDP_CHARS)).sdp) == MAX_SDP_CHARS
    assert parse(frame("candidate", to="p-1", candidate="c" * MAX_CANDIDATE_CHARS)).candidate
    assert parse(frame("hello", token="t" * MAX_TOKEN_CHARS)).token


def _edge_values(spec: messages.Spec) -> list[Any]:
    """Values at and around every limit a field's spec sets, and of every other JSON kind."""
    lengths = {0, 1, spec.min_length - 1, spec.min_length, spec.max_length, spec.max_length + 1}
    text = [("p" * n) for n in sorted(lengths) if n >= 0]
    text += ["é", "p é", " p ", "p\n1", "a/b", "\ud800", "p" * (spec.max_length - 1) + "é"]
    numbers = [spec.minimum - 1, spec.minimum, spec.maximum, spec.maximum + 1]
    return [*text, *numbers, None, True, False, 1.5, [], ["p-1"], {"a": 1}]


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "value", run()
    except ProtocolError as error:
        return type(error).__name__, error.detail


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_field_check_parse_makes_inline_agrees_with_the_full_check(kind: str) -> None:
    # parse checks a valid value in line (telepractice/signaling/messages.py _reader_of); the full check
    # _checked is the specification: the same value must be kept, or refused with the same error.
    cls = INBOUND[kind]
    for field in dataclasses.fields(cls):
        spec = field.metadata["spec"]
        for value in _edge_values(spec):
            through_parse = _outcome(lambda: getattr(parse(frame(kind, **{**VALID[kind], field.name: value})),
                                                     field.name))
            reference = _outcome(lambda: messages._checked(field.name, value, spec))
            assert through_parse == reference, (kind, field.name, value)


@pytest.mark.parametrize("participant", ["", "a b", "é", "../x", "p\n1", "p/1", "<script>", "p\u00001"])
def test_ids_must_be_letters_digits_and_a_few_marks(participant: str) -> None:
    assert refused(frame("admit", participant=participant)).code == "invalid-field"


@pytest.mark.parametrize("participants", [[], ["a", "a"], [f"p{i}" for i in range(7)]])
def test_participant_lists_must_be_short_non_empty_and_without_repeats(participants: list[str]) -> None:
    assert refused(frame("side-room-create", participants=participants)).code == "invalid-field"


@pytest.mark.parametrize("field", ["sdp", "to"])
def test_lone_surrogates_are_refused(field: str) -> None:
    fields = {"to": "p-1", "sdp": "v=0"}
    raw = frame("offer", **fields).replace(f'"{fields[field]}"', '"\\ud800"')
    assert refused(raw).code == "invalid-field"


def test_an_empty_sdp_or_token_is_refused() -> None:
    assert refused(frame("offer", to="p-1", sdp="")).code == "invalid-field"
    assert refused(frame("hello", token="")).code == "invalid-field"


# --- errors -----------------------------------------------------------------


def test_every_error_has_a_unique_code_one_sentence_and_a_close_decision() -> None:
    classes = error_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)) and len(codes) >= 25
    for cls in classes:
        assert issubclass(cls, (ProtocolError, UserError))
        assert cls.title.endswith(".") and cls.title.count(". ") == 0, cls
        assert cls.close_code is None or cls.close_code in CloseCode  # type: ignore[attr-defined]


def test_application_close_codes_are_in_the_private_range() -> None:
    for code in CloseCode:
        assert code < 1012 or 4000 <= code <= 4999


# --- outbound ---------------------------------------------------------------


def test_relayed_messages_name_the_sender_in_from() -> None:
    assert outbound.relayed_offer("p-1", "v=0") == {"v": 1, "type": "offer", "from": "p-1", "sdp": "v=0"}
    assert outbound.relayed_answer("p-1", "v=0")["from"] == "p-1"
    candidate = parse(frame("candidate", to="p-2", candidate="c", sdp_mid="0", sdp_mline_index=1))
    assert outbound.relayed_candidate("p-1", candidate) == {
        "v": 1,
        "type": "candidate",
        "from": "p-1",
        "candidate": "c",
        "sdp_mid": "0",
        "sdp_mline_index": 1,
        "username_fragment": None,
    }


def test_an_error_message_carries_code_title_detail_and_whether_the_socket_closes() -> None:
    error = refused(frame("ping", nonce="x"))
    message = outbound.error(error, refused="ping")
    assert message == {
        "v": 1,
        "type": "error",
        "code": "invalid-field",
        "title": "A field of the message is missing or has a wrong value.",
        "detail": "'nonce' must be an integer.",
        "refused": "ping",
        "closing": False,
        "field": "nonce",
    }
    assert outbound.error(refused(b"\xff"))["closing"] is True


def test_dump_writes_compact_utf8_json_and_keeps_non_ascii_text() -> None:
    payload = outbound.dump(outbound.relayed_offer("p-1", "s=Sessão"))
    assert payload == '{"v":1,"type":"offer","from":"p-1","sdp":"s=Sessão"}'.encode()


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_dump_never_writes_text_a_browser_cannot_parse(number: float) -> None:
    payload = outbound.dump({"v": 1, "type": "bitrate", "max_kbps": number})
    assert json.loads(payload, parse_constant=lambda name: pytest.fail(f"{name} written")) == {
        "v": 1, "type": "bitrate", "max_kbps": None}


@pytest.mark.parametrize("value", [Offer(to="p-1", sdp="v=0"), datetime.datetime(2026, 11, 24), object(), b"x"])
def test_dump_refuses_what_no_message_holds_rather_than_writing_its_fields(value: Any) -> None:
    with pytest.raises(TypeError):
        outbound.dump({"v": 1, "type": "chat", "text": value})


def test_every_outbound_builder_makes_a_versioned_message_of_a_listed_type() -> None:
    candidate = parse(frame("candidate", to="p-2", candidate=""))
    built = [
        outbound.welcome({"id": "p-1"}, "room-1", {}),
        outbound.waiting(outbound.WaitingReason.HOST_ABSENT),
        outbound.participant_waiting({"id": "p-1"}),
        outbound.participant_left_waiting("p-1", outbound.Departure.LEFT),
        outbound.admitted([], [], None, {}),
        outbound.turned_away(),
        outbound.presence(outbound.PresenceEvent.JOINED, {"id": "p-1"}),
        outbound.relayed_offer("p-1", "v=0"),
        outbound.relayed_answer("p-1", "v=0"),
        outbound.relayed_candidate("p-1", candidate),
        outbound.side_room_changed({}, None, [], []),
        outbound.bitrate(1500, 1),
        outbound.session_ended(outbound.Departure.ENDED_BY_HOST),
        outbound.removed(outbound.Departure.CONSENT_WITHDRAWN),
        outbound.replaced(),
        outbound.help_requested("alert-1", {"id": "p-1"}, 1),
        outbound.help_acknowledged("alert-1", "p-1", "staff-1", 0),
        outbound.time_warning("2026-11-23T21:00:00+00:00", 5),
        outbound.chat("p-1", "Olá", "2026-11-23T21:00:00+00:00", None),
        outbound.ice_servers(),
        outbound.ping(1),
        outbound.pong(1),
        outbound.error(refused("[]")),
    ]
    assert sorted(message["type"] for message in built) == sorted(outbound.OUTBOUND_TYPES)
    for message in built:
        assert message["v"] == 1
        assert json.loads(outbound.dump(message)) == message
