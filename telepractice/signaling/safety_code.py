"""The safety code of one peer connection: six digits from both DTLS fingerprints, the same at both ends.

Two people read their codes to each other; when the codes differ, something
(the signalling server included) has put itself between them. The browser
computes the same code in web/js/safety-code.js, from the same rule:

1. each fingerprint is the SDP ``a=fingerprint`` value, normalised to the
   algorithm in lower case, one space, the hex digits in upper case with colons
   (``sha-256 AB:CD:...``);
2. the two are sorted and joined with ``"\\n"``;
3. the first 4 bytes of its SHA-256, as a big-endian unsigned integer, modulo
   10^6, zero-padded to 6 digits, shown as ``"123 456"``.

Pure: SDP text in, a string out.
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

# The same pattern as web/js/safety-code.js, so both ends accept the same lines.
_VALUE = r"(\S+)\s+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*"
_FINGERPRINT_LINE = re.compile(rf"^a=fingerprint:{_VALUE}$")
_FINGERPRINT_VALUE = re.compile(rf"^\s*{_VALUE}$")
CODE_MODULUS = 10**6


class _Description(Protocol):
    sdp: str


class _PeerConnection(Protocol):
    """What the code needs of an aiortc RTCPeerConnection."""

    @property
    def localDescription(self) -> _Description | None: ...

    @property
    def remoteDescription(self) -> _Description | None: ...


def normalise_fingerprint(value: str) -> str:
    """An ``a=fingerprint`` value as ``algorithm HEX:HEX...``; ValueError when it is not one."""
    match = _FINGERPRINT_VALUE.match(value)
    if match is None:
        raise ValueError(f"Not a fingerprint value: {value[:80]!r}.")
    return f"{match[1].lower()} {match[2].upper()}"


def fingerprint_from_sdp(sdp: str) -> str:
    """The ``a=fingerprint`` of an SDP description (session or media level) the code uses, normalised.

    The first sha-256 one: every browser and aiortc offer sha-256, while some list other
    algorithms too, in their own order. The first of another algorithm only when there is none.
    """
    first: str | None = None
    for line in re.split(r"\r?\n", sdp):
        match = _FINGERPRINT_LINE.match(line)
        if match is None:
            continue
        fingerprint = f"{match[1].lower()} {match[2].upper()}"
        if fingerprint.startswith("sha-256 "):
            return fingerprint
        first = first or fingerprint
    if first is not None:
        return first
    raise ValueError("The description has no a=fingerprint line.")


def safety_code(local_fingerprint: str, remote_fingerprint: str) -> str:
    """The code both ends of a connection show, as ``"123 456"``; the order of the two does not matter."""
    joined = "\n".join(sorted((normalise_fingerprint(local_fingerprint), normalise_fingerprint(remote_fingerprint))))
    digest = hashlib.sha256(joined.encode("utf-8")).digest()
    digits = f"{int.from_bytes(digest[:4], 'big') % CODE_MODULUS:06d}"
    return f"{digits[:3]} {digits[3:]}"


def safety_code_of(pc: _PeerConnection) -> str | None:
    """The code of a peer connection from its local and remote descriptions; None until both are set."""
    local, remote = pc.localDescription, pc.remoteDescription
    if local is None or remote is None or not local.sdp or not remote.sdp:
        return None
    return safety_code(fingerprint_from_sdp(local.sdp), fingerprint_from_sdp(remote.sdp))
