"""docs/protocol.md documents every message type, inbound field, error code, close code and limit in the code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from telepractice.signaling import messages, ratelimit, room
from telepractice.signaling.errors import CloseCode, error_classes
from telepractice.signaling.outbound import OUTBOUND_TYPES

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of one '## ' section of the document."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOC, flags=re.M | re.S)
    assert match, f"docs/protocol.md has no section '## {title}'"
    return match.group(1)


def message_entry(part: str, kind: str) -> str:
    """The text under '### `kind`' in one section."""
    match = re.search(rf"^### `{re.escape(kind)}`\n(.*?)(?=^### |\Z)", section(part), flags=re.M | re.S)
    assert match, f"docs/protocol.md, section '{part}', does not document `{kind}`"
    return match.group(1)


@pytest.mark.parametrize("kind", sorted(messages.INBOUND))
def test_every_inbound_message_and_each_of_its_fields_is_documented(kind: str) -> None:
    entry = message_entry("Client to server", kind)
    for field in dataclasses.fields(messages.INBOUND[kind]):
        assert re.search(rf"^\| `{field.name}` \|", entry, flags=re.M), f"`{kind}` does not document `{field.name}`"


@pytest.mark.parametrize("kind", OUTBOUND_TYPES)
def test_every_outbound_message_is_documented(kind: str) -> None:
    assert message_entry("Server to client", kind).strip()


def test_the_documented_message_types_all_exist_in_the_code() -> None:
    inbound = re.findall(r"^### `([a-z-]+)`", section("Client to server"), flags=re.M)
    outbound = re.findall(r"^### `([a-z-]+)`", section("Server to client"), flags=re.M)
    assert sorted(inbound) == sorted(messages.INBOUND)
    assert sorted(outbound) == sorted(OUTBOUND_TYPES)


@pytest.mark.parametrize("error", error_classes(), ids=lambda cls: cls.code)
def test_every_error_code_is_documented_with_its_close_decision_and_title(error: type) -> None:
    row = re.search(rf"^\| `{re.escape(error.code)}` \| ([^|]+) \| ([^|]+) \|$", section("Error codes"), flags=re.M)
    assert row, f"the error code `{error.code}` is not in the table of docs/protocol.md"
    close = "stays open" if error.close_code is None else str(int(error.close_code))
    assert (row.group(1).strip(), row.group(2).strip()) == (close, error.title)


def test_the_documented_error_codes_all_exist_in_the_code() -> None:
    documented = re.findall(r"^\| `([a-z-]+)` \|", section("Error codes"), flags=re.M)
    assert sorted(documented) == sorted(cls.code for cls in error_classes())


@pytest.mark.parametrize("code", list(CloseCode), ids=lambda code: code.name)
def test_every_close_code_is_documented(code: CloseCode) -> None:
    assert re.search(rf"^\| {int(code)} \|", section("Close codes"), flags=re.M)


@pytest.mark.parametrize(
    ("limit", "value"),
    [
        ("frame", f"{messages.MAX_FRAME_BYTES} bytes"),
        ("`sdp`", f"{messages.MAX_SDP_CHARS} characters"),
        ("`candidate`", f"{messages.MAX_CANDIDATE_CHARS} characters"),
        ("ids", f"{messages.MAX_ID_CHARS} characters"),
        ("`token`", f"{messages.MAX_TOKEN_CHARS} characters"),
        ("participants in a call", f"{messages.MAX_ROOM_PARTICIPANTS}"),
        ("reconnection grace", f"{room.DEFAULT_GRACE_SECONDS:g} seconds"),
        ("`hello` must arrive within", f"{messages.HELLO_TIMEOUT_SECONDS:g} seconds"),
        ("server `ping` every", f"{messages.PING_INTERVAL_SECONDS:g} seconds"),
        ("silent connection closed after", f"{messages.SILENCE_TIMEOUT_SECONDS:g} seconds"),
        (
            "message budget",
            f"{ratelimit.DEFAULT_MESSAGES_PER_SECOND:g} messages a second, "
            f"bursts of {ratelimit.DEFAULT_MESSAGE_BURST:g}",
        ),
        (
            "byte budget",
            f"{ratelimit.DEFAULT_BYTES_PER_SECOND:.0f} bytes a second, bursts of {ratelimit.DEFAULT_BYTE_BURST:.0f}",
        ),
        ("refused in a row before closing", f"{ratelimit.DEFAULT_MAX_REFUSED}"),
    ],
)
def test_every_limit_is_documented_with_the_value_in_the_code(limit: str, value: str) -> None:
    assert f"| {limit} | {value} |" in section("Limits")


def test_the_bitrate_table_matches_the_code() -> None:
    documented = re.search(r"^\| `max_kbps` \|(.*)\|$", DOC, flags=re.M)
    assert documented
    assert [int(cell) for cell in documented.group(1).split("|")] == list(room.BITRATE_KBPS)
