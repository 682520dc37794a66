"""A server's WebSocket text frame (RFC 6455, section 5.2), built whole so it can be written in one call. No I/O.

Relaying is the busiest thing the server does, and handing each message to a
writer task costs an event, a future and a task switch per message (a fifth of
the event loop at saturation, bench/README.md). When nothing is queued and the
socket is keeping up, ``Connection.send`` writes the frame straight to the
transport instead. A server's frames are never masked, and our sockets never
negotiate compression (``compress=False``), so a frame is a header and the
UTF-8 payload.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81  # FIN set, opcode 1 (text)
_LENGTH_16 = struct.Struct("!BBH")
_LENGTH_64 = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame carrying ``payload`` (already UTF-8)."""
    length = len(payload)
    if length < 126:
        return bytes((_FIN_TEXT, length)) + payload
    if length < 1 << 16:
        return _LENGTH_16.pack(_FIN_TEXT, 126, length) + payload
    return _LENGTH_64.pack(_FIN_TEXT, 127, length) + payload
