"""A small network of the test's own: a server namespace and client namespaces, each link shaped.

    server namespace                         client namespace i
    br0 10.99.0.1/24 ── tap tps<i> ≈≈≈≈≈≈≈≈ tap tpc<i> 10.99.0.<i+10>/24
                                   link_emulator.py

Every address is in 10.99.0.0/24 and lives only inside these namespaces, so
nothing reaches the machine's own network. Clients reach the server (and each
other, for peer-to-peer media) through the bridge. Between each pair of TAP
devices runs ``telepractice/testing/link_emulator.py``, a userspace netem
(this kernel has no ``sch_netem`` and no tc classifier to drop with): delay,
loss, a bandwidth cap or a cut apply to both directions of a client's link.
Needs root and ``ip``; the emulator processes are stopped by their PIDs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

from telepractice.testing import netns
from telepractice.testing.netns import IP, Namespace, NamespaceError
from telepractice.testing.processes import stop_process

SUBNET = "10.99.0"
SERVER_ADDRESS = f"{SUBNET}.1"
BRIDGE = "br0"
STOP_TIMEOUT = 5.0

# Reached when the server's kernel answers: a refused connection (RST) crossed the link both ways.
_REACHES = textwrap.dedent("""
    import socket, sys
    try:
        socket.create_connection((sys.argv[1], 9), timeout=float(sys.argv[2])).close()
    except ConnectionRefusedError:
        pass
    except OSError as error:
        sys.exit(f"{sys.argv[1]} is unreachable: {error}")
""")


def unavailable_reason() -> str | None:
    """Why shaped links cannot be made here, or None (one is made and torn down to be sure)."""
    if os.geteuid() != 0:
        return "making network namespaces and TAP devices needs root"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing, so no TAP device can be made"
    try:
        with shaped_network(1):
            pass
    except (NamespaceError, OSError) as error:
        return str(error)
    return None


@dataclasses.dataclass(frozen=True)
class Shape:
    """What the link does to each packet, in each direction."""

    delay_ms: float = 0.0
    loss_percent: float = 0.0
    rate_kbit: int | None = None
    limit_packets: int = 1000
    udp_only_ports: tuple[int, ...] = ()  # when set, UDP neither from nor to these ports is dropped (only TURN passes)


CLEAR = Shape()
CUT = Shape(loss_percent=100.0)


@dataclasses.dataclass
class Client:
    """One client namespace and its link: its TAP device, the bridge port facing it, and the emulator between."""

    ns: Namespace
    address: str
    interface: str  # in the client namespace
    server_port: str  # in the server namespace, a port of the bridge
    control: Path
    emulator: subprocess.Popen[bytes] | None = None


@dataclasses.dataclass
class ShapedNetwork:
    server: Namespace
    clients: list[Client]

    @property
    def server_address(self) -> str:
        return SERVER_ADDRESS

    def shape(self, client: Client, **shape: float | int | None) -> None:
        """Apply one shape to both directions of a client's link (replacing any before)."""
        self.apply(client, Shape(**shape))  # type: ignore[arg-type]

    def apply(self, client: Client, shape: Shape) -> None:
        staged = client.control.with_suffix(".new")
        staged.write_text(json.dumps(dataclasses.asdict(shape)))
        os.replace(staged, client.control)  # the emulator reads a whole file or the old one

    def cut(self, client: Client) -> None:
        """Drop every packet both ways, as a pulled cable or a dead Wi-Fi would."""
        self.apply(client, CUT)

    def clear(self, client: Client) -> None:
        self.apply(client, CLEAR)

    def change_address(self, client: Client, host: int) -> str:
        """A network change, as from Wi-Fi to mobile data: the client's address is replaced by ``SUBNET.host``.

        The new address comes first, then the old one goes, as a phone's second network is up before the
        first is dropped; sockets bound to the old address are left to find out for themselves.
        """
        address = f"{SUBNET}.{host}"
        # Linux drops an interface's other addresses of a subnet with its first one unless told to promote them.
        client.ns.run(["sh", "-c", f"echo 1 > /proc/sys/net/ipv4/conf/{client.interface}/promote_secondaries"])
        client.ns.run([IP, "addr", "add", f"{address}/24", "dev", client.interface])
        client.ns.run([IP, "addr", "del", f"{client.address}/24", "dev", client.interface])
        client.address = address
        return address

    def reaches_server(self, client: Client, timeout: float = 1.0) -> bool:
        """Whether a packet from ``client`` gets to the server and an answer back within ``timeout``."""
        try:
            client.ns.run([sys.executable, "-c", _REACHES, SERVER_ADDRESS, str(timeout)], timeout=timeout + 5)
        except NamespaceError:
            return False
        return True


def _start_emulator(server: Namespace, client: Client) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "telepractice.testing.link_emulator", client.ns.name, client.interface,
         server.name, client.server_port, str(client.control)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    stop_process(process, STOP_TIMEOUT)
    if process.stderr is not None:
        process.stderr.close()


def _add_client(server: Namespace, index: int, tag: str, directory: Path) -> Client:
    ns = netns.create(prefix=f"tp-c{index}-")
    try:
        inner, outer = f"tpc{index}{tag}", f"tps{index}{tag}"  # at most 15 characters
        address = f"{SUBNET}.{index + 10}"
        ns.run([IP, "tuntap", "add", "dev", inner, "mode", "tap"])
        ns.run([IP, "addr", "add", f"{address}/24", "dev", inner])
        # Without duplicate address detection: otherwise the IPv6 link-local address turns from tentative to
        # valid a second or two after the link is up, and a Chromium started in that window sees the network
        # change (a navigation fails with ERR_NETWORK_CHANGED, ICE gathering starts over).
        dad = f"/proc/sys/net/ipv6/conf/{inner}/accept_dad"
        ns.run(["sh", "-c", f"if [ -e {dad} ]; then echo 0 > {dad}; fi"])
        ns.run([IP, "link", "set", inner, "up"])
        server.run([IP, "tuntap", "add", "dev", outer, "mode", "tap"])
        server.run([IP, "link", "set", outer, "master", BRIDGE])
        server.run([IP, "link", "set", outer, "up"])
        client = Client(ns, address, inner, outer, directory / f"link-{index}.json")
        client.control.write_text(json.dumps(dataclasses.asdict(CLEAR)))
        client.emulator = _start_emulator(server, client)
        return client
    except BaseException:
        netns.delete(ns)
        raise


@contextlib.contextmanager
def shaped_network(clients: int) -> Iterator[ShapedNetwork]:
    """A server namespace with a bridge and ``clients`` client namespaces linked to it; all gone afterwards."""
    tag = secrets.token_hex(2)
    server = netns.create(prefix="tp-srv-")
    made: list[Client] = []
    with tempfile.TemporaryDirectory(prefix="tp-links-") as directory:
        try:
            server.run([IP, "link", "add", BRIDGE, "type", "bridge"])
            server.run([IP, "addr", "add", f"{SERVER_ADDRESS}/24", "dev", BRIDGE])
            server.run([IP, "link", "set", BRIDGE, "up"])
            for index in range(clients):
                made.append(_add_client(server, index, tag, Path(directory)))
            network = ShapedNetwork(server, made)
            # Fail here, not in a test, when a link does not carry packets.
            for client in made:
                if not network.reaches_server(client, timeout=3.0):
                    error = b""
                    if client.emulator is not None and client.emulator.poll() is not None and client.emulator.stderr:
                        error = client.emulator.stderr.read()
                    raise NamespaceError(f"{client.address} cannot reach {SERVER_ADDRESS}: {error.decode()[-500:]}")
            yield network
        finally:
            for client in made:
                if client.emulator is not None:
                    _stop(client.emulator)
                netns.delete(client.ns)
            netns.delete(server)
