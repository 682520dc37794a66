"""Signalling: the wire protocol and the rooms it drives (see docs/protocol.md).

Pure core, no I/O: ``messages`` (inbound, parsed and checked), ``outbound``
(messages built as dicts, ``dump()``), ``errors`` (codes and close codes),
``participant``, ``roster``, ``side_rooms``, ``room`` (the state machine of one
session), ``registry`` (the rooms of one server) and ``ratelimit``. The
WebSocket transport parses each frame, feeds the room, and writes what the
room sends to its peers.
"""
