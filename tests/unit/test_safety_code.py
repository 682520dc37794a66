"""The safety code: the rule of docs/safety-code.md, checked against an independent computation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from telepractice.signaling.safety_code import (
    fingerprint_from_sdp,
    normalise_fingerprint,
    safety_code,
    safety_code_of,
)

ALICE = "sha-256 " + ":".join(f"{b:02X}" for b in range(32))
BOB = "sha-256 " + ":".join(f"{255 - b:02X}" for b in range(32))

SDP_MEDIA_LEVEL = "\r\n".join([
    "v=0",
    "o=- 3912 1 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "m=video 9 UDP/TLS/RTP/SAVPF 97",
    "c=IN IP4 0.0.0.0",
    "a=mid:0",
    "a=fingerprint:sha-256 " + ALICE.split(" ")[1].lower(),
    "a=fingerprint:sha-384 " + ":".join(["AA"] * 48),
    "a=setup:actpass",
    "",
])


def expected_code(first: str, second: str) -> str:
    """The rule written out again, step by step, without the module under test."""
    text = "\n".join(sorted([first, second])).encode()
    number = int.from_bytes(hashlib.sha256(text).digest()[0:4], byteorder="big", signed=False)
    six = str(number % 1_000_000).rjust(6, "0")
    return six[0:3] + " " + six[3:6]


def test_the_code_is_the_same_whichever_end_computes_it() -> None:
    assert safety_code(ALICE, BOB) == safety_code(BOB, ALICE)


def test_the_code_matches_the_rule_computed_independently() -> None:
    code = safety_code(ALICE, BOB)
    assert code == expected_code(ALICE, BOB)
    assert len(code) == 7 and code[3] == " " and (code[:3] + code[4:]).isdigit()


def test_a_known_vector_pins_the_rule() -> None:
    # The digits are written out so that the browser's tests (web/js/safety-code.js) can share them.
    digest = hashlib.sha256(f"{ALICE}\n{BOB}".encode()).digest()
    assert ALICE < BOB
    assert int(digest[:4].hex(), 16) % 10**6 == 593786
    assert safety_code(ALICE, BOB) == "593 786"


def test_small_numbers_are_zero_padded_to_six_digits() -> None:
    # Search a few pairs for one whose number is below 100000: it must still show six digits.
    for n in range(5000):
        other = f"sha-256 {n:02X}:00"
        if int(expected_code(ALICE, other).replace(" ", "")) < 100_000:
            code = safety_code(ALICE, other)
            assert code.startswith("0") and len(code) == 7
            return
    pytest.fail("no pair with a small code among 5000")


@pytest.mark.parametrize(
    "spelling",
    [
        ALICE.lower(),
        ALICE.replace("sha-256", "SHA-256"),
        ALICE.replace(" ", "   "),
        ALICE.replace(" ", "\t"),
        f"  {ALICE}  ",
        ALICE + "\r",
    ],
    ids=["lower-hex", "upper-algorithm", "spaces", "tab", "padded", "carriage-return"],
)
def test_case_and_whitespace_do_not_change_the_code(spelling: str) -> None:
    assert normalise_fingerprint(spelling) == ALICE
    assert safety_code(spelling, BOB) == safety_code(ALICE, BOB)


def test_a_different_fingerprint_gives_a_different_code() -> None:
    one_byte_changed = ALICE[:-2] + "FF"
    assert safety_code(one_byte_changed, BOB) != safety_code(ALICE, BOB)
    assert safety_code(ALICE, ALICE) != safety_code(ALICE, BOB)
    assert safety_code(ALICE.replace("sha-256", "sha-1"), BOB) != safety_code(ALICE, BOB)


def test_the_first_fingerprint_of_an_sdp_is_read_normalised() -> None:
    assert fingerprint_from_sdp(SDP_MEDIA_LEVEL) == ALICE


def test_a_session_level_fingerprint_counts_and_comes_first() -> None:
    session_level = SDP_MEDIA_LEVEL.replace("t=0 0\r\n", f"t=0 0\r\na=fingerprint:{BOB}\r\n")
    assert fingerprint_from_sdp(session_level) == BOB


def test_the_sha256_fingerprint_counts_even_when_another_algorithm_is_listed_first() -> None:
    other_first = SDP_MEDIA_LEVEL.replace("a=mid:0\r\n", "a=mid:0\r\na=fingerprint:sha-512 " + ":".join(["CC"] * 64) + "\r\n")
    assert fingerprint_from_sdp(other_first) == ALICE


def test_without_a_sha256_fingerprint_the_first_of_another_algorithm_counts() -> None:
    only_others = "\r\n".join(["v=0", "a=fingerprint:sha-384 " + ":".join(["aa"] * 48),
                                 "a=fingerprint:sha-512 " + ":".join(["BB"] * 64), ""])
    assert fingerprint_from_sdp(only_others) == "sha-384 " + ":".join(["AA"] * 48)


def test_lines_ending_in_a_bare_newline_are_read_too() -> None:
    assert fingerprint_from_sdp(SDP_MEDIA_LEVEL.replace("\r\n", "\n")) == ALICE


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "v=0\r\ns=-\r\n",
        "a=fingerprint:sha-256\r\n",
        "a=fingerprint:sha-256 not-hex\r\n",
        "a=fingerprint:sha-256 ABC:DE\r\n",
        "a=fingerprint:sha-256 AB:\r\n",
        "a=fingerprint: AB:CD\r\n",
        " a=fingerprint:sha-256 AB:CD\r\n",
    ],
    ids=["empty", "no-fingerprint", "no-value", "not-hex", "odd-digits", "trailing-colon", "no-algorithm",
         "indented"],
)
def test_an_sdp_without_a_well_formed_fingerprint_is_refused(sdp: str) -> None:
    with pytest.raises(ValueError, match="no a=fingerprint"):
        fingerprint_from_sdp(sdp)


@pytest.mark.parametrize("value", ["", "sha-256", "AB:CD", "sha-256 AB:CD:E", "sha-256 AB CD"])
def test_a_malformed_fingerprint_value_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="Not a fingerprint"):
        safety_code(value, BOB)


@dataclasses.dataclass
class Description:
    sdp: str


@dataclasses.dataclass
class PeerConnection:
    localDescription: Description | None  # aiortc's names
    remoteDescription: Description | None


def test_a_peer_connection_has_a_code_once_both_descriptions_are_set() -> None:
    remote_sdp = SDP_MEDIA_LEVEL.replace(ALICE.split(" ")[1].lower(), BOB.split(" ")[1])
    local = Description(SDP_MEDIA_LEVEL)
    assert safety_code_of(PeerConnection(local, None)) is None
    assert safety_code_of(PeerConnection(local, Description(remote_sdp))) == safety_code(ALICE, BOB)


NODE = shutil.which("node")
SAFETY_CODE_JS = Path(__file__).resolve().parents[2] / "web" / "js" / "safety-code.js"


def test_the_browser_module_computes_the_same_codes() -> None:
    """web/js/safety-code.js, run by Node, against this module on the same SDP and fingerprints."""
    assert NODE is not None, "node is not installed: bash .ci/install installs it (apt-get install nodejs)"
    pairs = [(ALICE, BOB), (BOB, ALICE), (ALICE, ALICE[:-2] + "FF"), (ALICE.replace("sha-256", "sha-1"), BOB)]
    script = (
        f"import {{ safetyCode, fingerprintFromSdp }} from {json.dumps(SAFETY_CODE_JS.as_uri())};\n"
        f"const pairs = {json.dumps(pairs)};\n"
        "const codes = await Promise.all(pairs.map(([a, b]) => safetyCode(a, b)));\n"
        f"console.log(JSON.stringify({{codes, fingerprint: fingerprintFromSdp({json.dumps(SDP_MEDIA_LEVEL)})}}));\n"
    )
    result = subprocess.run([str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True,
                            timeout=30, check=True)
    browser = json.loads(result.stdout)
    assert browser["fingerprint"] == fingerprint_from_sdp(SDP_MEDIA_LEVEL)
    assert browser["codes"] == [safety_code(a, b) for a, b in pairs]
    assert browser["codes"][0] == "593 786"
