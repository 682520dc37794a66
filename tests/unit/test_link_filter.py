"""The link emulator's port filter: a firewall that lets through UDP to or from TURN's port only, and all of TCP."""

from __future__ import annotations

import struct

from telepractice.testing.link_emulator import blocked, udp_ports

ONLY_TURN = {"udp_only_ports": [3478]}


def ipv4(protocol: int, source: int, destination: int) -> bytes:
    ethernet = b"\x02" * 12 + b"\x08\x00"
    header = bytes([0x45, 0]) + struct.pack("!H", 28) + b"\0" * 5 + bytes([protocol]) + b"\0" * 10
    return ethernet + header + struct.pack("!HHHH", source, destination, 8, 0)


def ipv6(protocol: int, source: int, destination: int) -> bytes:
    ethernet = b"\x02" * 12 + b"\x86\xdd"
    header = b"\x60\0\0\0" + struct.pack("!H", 8) + bytes([protocol, 64]) + b"\0" * 32
    return ethernet + header + struct.pack("!HHHH", source, destination, 8, 0)


def test_the_ports_of_udp_over_ipv4_and_ipv6() -> None:
    assert udp_ports(ipv4(17, 50000, 3478)) == (50000, 3478)
    assert udp_ports(ipv6(17, 3478, 50001)) == (3478, 50001)
    assert udp_ports(ipv4(6, 50000, 443)) is None  # TCP
    assert udp_ports(b"\x02" * 12 + b"\x08\x06" + b"\0" * 28) is None  # ARP
    assert udp_ports(b"\x02" * 10) is None


def test_only_udp_to_or_from_the_allowed_ports_passes() -> None:
    assert not blocked(ipv4(17, 50000, 3478), ONLY_TURN)
    assert not blocked(ipv4(17, 3478, 50000), ONLY_TURN)
    assert blocked(ipv4(17, 50000, 50002), ONLY_TURN)
    assert blocked(ipv6(17, 50000, 50002), ONLY_TURN)
    assert not blocked(ipv4(6, 50000, 8443), ONLY_TURN)  # signalling and HTTPS still pass


def test_without_a_port_list_nothing_is_filtered() -> None:
    assert not blocked(ipv4(17, 50000, 50002), {})
    assert not blocked(ipv4(17, 50000, 50002), {"udp_only_ports": []})
