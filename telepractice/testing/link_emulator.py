"""A userspace netem: copies Ethernet frames between two TAP devices in two namespaces, with delay, loss, a rate cap or a cut.

Some kernels (Firecracker's among them) ship without ``sch_netem`` and without
any tc classifier, so neither ``tc ... netem`` nor ``gact`` can drop packets.
This process stands in for the wire instead: it opens one TAP device in each
namespace (``setns`` before ``TUNSETIFF``, since a TAP fd stays tied to its
device once attached) and forwards every frame through a per-direction queue
shaped as the control file says. The test rewrites that file to change the
shape; the emulator looks at it every 50 ms.

    python -m telepractice.testing.link_emulator NS_A IF_A NS_B IF_B CONTROL_JSON

Control file: {"delay_ms": 0, "loss_percent": 0, "rate_kbit": null, "limit_packets": 1000}, and optionally
"udp_only_ports": [3478]: UDP datagrams neither from nor to one of these ports are dropped (a firewall that lets
only TURN through), while TCP and everything else passes.
"""

from __future__ import annotations

import ctypes
import fcntl
import heapq
import json
import os
import random
import select
import struct
import sys
import time
from pathlib import Path

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
CONTROL_EVERY = 0.05
MAX_FRAME = 65536


def _enter(namespace: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {namespace} failed")
    finally:
        os.close(fd)


def open_tap(namespace: str, interface: str) -> int:
    """An fd of the existing TAP device ``interface`` in ``namespace`` (this thread enters the namespace)."""
    _enter(namespace)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", interface.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def udp_ports(frame: bytes) -> tuple[int, int] | None:
    """The (source, destination) ports of an Ethernet frame carrying UDP over IPv4 or IPv6, else None."""
    if len(frame) < 14:
        return None
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800 and len(frame) >= 34:
        start, protocol = 14 + (frame[14] & 0x0F) * 4, frame[23]
    elif ethertype == 0x86DD and len(frame) >= 54:
        start, protocol = 54, frame[20]  # no extension headers in this test network
    else:
        return None
    if protocol != 17 or len(frame) < start + 4:
        return None
    source, destination = struct.unpack("!HH", frame[start:start + 4])
    return source, destination


def blocked(frame: bytes, shape: dict[str, float | None]) -> bool:
    """Whether the shape's port filter drops this frame: UDP with neither port in ``udp_only_ports``."""
    allowed = shape.get("udp_only_ports")
    if not allowed:
        return False
    ports = udp_ports(frame)
    return ports is not None and not set(ports) & set(allowed)  # type: ignore[arg-type]


class Direction:
    """Frames from one TAP to the other: lost, delayed, or queued behind a rate cap."""

    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.queue: list[tuple[float, int, bytes]] = []
        self.next_free = 0.0  # when the (rate-capped) wire is free again
        self.count = 0

    def arrive(self, frame: bytes, shape: dict[str, float | None], now: float) -> None:
        if random.random() * 100 < float(shape.get("loss_percent") or 0) or blocked(frame, shape):
            return
        if len(self.queue) >= int(shape.get("limit_packets") or 1000):
            return  # a full queue drops, as a router's would
        depart = now + float(shape.get("delay_ms") or 0) / 1000
        rate = shape.get("rate_kbit")
        if rate:
            start = max(now, self.next_free)
            self.next_free = start + len(frame) * 8 / (float(rate) * 1000)
            depart = max(depart, self.next_free)
        self.count += 1
        heapq.heappush(self.queue, (depart, self.count, frame))

    def send_due(self, now: float) -> float | None:
        """Write every frame due by ``now``; the time the next one is due, or None."""
        while self.queue and self.queue[0][0] <= now:
            _, _, frame = heapq.heappop(self.queue)
            try:
                os.write(self.out_fd, frame)
            except OSError:
                pass  # the device went down: the frame is lost, as on a wire
        return self.queue[0][0] if self.queue else None


def _shape(control: Path) -> dict[str, float | None]:
    try:
        return json.loads(control.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def run(ns_a: str, if_a: str, ns_b: str, if_b: str, control: Path) -> None:
    fd_a = open_tap(ns_a, if_a)
    fd_b = open_tap(ns_b, if_b)
    directions = {fd_a: Direction(fd_b), fd_b: Direction(fd_a)}
    shape = _shape(control)
    checked = time.monotonic()
    mtime = 0.0
    while True:
        now = time.monotonic()
        due = [d.send_due(now) for d in directions.values()]
        if now - checked >= CONTROL_EVERY:
            checked = now
            try:
                changed = control.stat().st_mtime
            except OSError:
                return  # the test is gone: so is the link
            if changed != mtime:
                mtime, shape = changed, _shape(control)
        wake = min([t for t in due if t is not None] + [checked + CONTROL_EVERY])
        readable, _, _ = select.select(list(directions), [], [], max(0.0, wake - time.monotonic()))
        now = time.monotonic()
        for fd in readable:
            for _ in range(64):
                try:
                    frame = os.read(fd, MAX_FRAME)
                except BlockingIOError:
                    break
                except OSError:
                    return
                directions[fd].arrive(frame, shape, now)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    run(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]))
