"""Two aiortc peers connect relay-only through a real coturn on 127.0.0.1, with credentials from turn.py."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aioice import stun, turn
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import RTCIceTransport
from av import VideoFrame

from telepractice.signaling.turn import TurnConfig, ice_servers
from telepractice.testing import coturn as coturn_process
from telepractice.testing.loopback import loopback_only

CONNECT_TIMEOUT = 10.0  # offer to connected via relay: ~0.05 s here, ~0.52 s with one STUN retransmission
REFUSED_WINDOW = 5.0  # ten times the slow case: a refused credential must not connect in this long
STEP_TIMEOUT = 5.0  # any single message, frame or log line
SESSION_SECONDS = 3600


class SmallFrames(VideoStreamTrack):
    """A synthetic 160x120 camera: cheap to encode, enough to prove media crosses the relay."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=160, height=120)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = pts
        frame.time_base = time_base
        return frame


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[coturn_process.Coturn]:
    """A real coturn on a free 127.0.0.1 port with a fresh secret, stopped by PID afterwards."""
    if coturn_process.turnserver_path() is None:
        pytest.skip(f"coturn is not installed ({coturn_process.TURNSERVER} missing; apt-get install coturn)")
    with coturn_process.running(tmp_path / "coturn", secrets.token_hex(32)) as server:
        yield server


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """Peer connections a test makes; all closed at the end."""
    made: list[RTCPeerConnection] = []
    yield made
    for connection in made:
        await connection.close()


def relay_only(servers: list[dict[str, object]]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in servers],  # type: ignore[arg-type]
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )


def turn_config(server: coturn_process.Coturn, secret: str | None = None) -> TurnConfig:
    return TurnConfig(secret=secret or server.secret, urls=[server.turn_url], lifetime_seconds=600)


def watch_states(connection: RTCPeerConnection) -> list[str]:
    """Every connectionState the connection passes through, in order."""
    states: list[str] = []
    connection.on("connectionstatechange", lambda: states.append(connection.connectionState))
    return states


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    """Offer and answer over an in-memory wire; aiortc puts every gathered candidate in the SDP."""
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


async def until_connected(*connections: RTCPeerConnection) -> None:
    async def one(connection: RTCPeerConnection) -> None:
        while connection.connectionState != "connected":
            if connection.connectionState in {"failed", "closed"}:
                raise AssertionError(f"connection went {connection.connectionState}")
            await asyncio.sleep(0.01)

    await asyncio.wait_for(asyncio.gather(*(one(c) for c in connections)), CONNECT_TIMEOUT)


def ice_transports(connection: RTCPeerConnection) -> list[RTCIceTransport]:
    transports = [t.receiver.transport.transport for t in connection.getTransceivers()]
    if connection.sctp is not None:
        transports.append(connection.sctp.transport.transport)
    return transports


def selected_pair_types(transport: RTCIceTransport) -> list[tuple[str, str]]:
    """(local, remote) candidate types of each nominated pair.

    aiortc 1.16's getStats() has no candidate-pair entries, so this reads the
    nominated pairs from the aioice connection behind the transport.
    """
    nominated = transport._connection._nominated
    return [(pair.local_candidate.type, pair.remote_candidate.type) for pair in nominated.values()]


async def until_logged(server: coturn_process.Coturn, text: str) -> str:
    deadline = time.monotonic() + STEP_TIMEOUT
    while text not in (log := server.log()):
        if time.monotonic() > deadline:
            raise AssertionError(f"coturn never logged {text!r}; log ends:\n{log[-2000:]}")
        await asyncio.sleep(0.05)
    return log


async def until_open(channel: RTCDataChannel) -> None:
    """The offerer's channel opens when the SCTP ack arrives, which may be after the answerer sees it."""
    if channel.readyState != "open":
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        channel.once("open", lambda: opened.set_result(None))
        await asyncio.wait_for(opened, STEP_TIMEOUT)


async def next_message(channel: RTCDataChannel) -> str:
    received: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    channel.once("message", received.set_result)
    return await asyncio.wait_for(received, STEP_TIMEOUT)


async def first_frame(track: MediaStreamTrack) -> VideoFrame:
    try:
        frame = await asyncio.wait_for(track.recv(), STEP_TIMEOUT)
    except MediaStreamError as error:  # raised by recv() when the track ends
        raise AssertionError("the video track ended before a frame arrived") from error
    assert isinstance(frame, VideoFrame)
    return frame


async def test_two_peers_connect_relay_only_through_coturn_and_exchange_data_and_video(
    coturn: coturn_process.Coturn, peers: list[RTCPeerConnection]
) -> None:
    config = turn_config(coturn)
    now = time.time()
    worker = RTCPeerConnection(relay_only(ice_servers(config, "worker-1", now, now + SESSION_SECONDS)))
    family = RTCPeerConnection(relay_only(ice_servers(config, "family-7", now, now + SESSION_SECONDS)))
    peers += [worker, family]
    worker_channel = worker.createDataChannel("chat")
    worker.addTrack(SmallFrames())
    family_channel: asyncio.Future[RTCDataChannel] = asyncio.get_running_loop().create_future()
    remote_video: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    family.on("datachannel", family_channel.set_result)
    family.on("track", remote_video.set_result)

    await negotiate(worker, family)
    await until_connected(worker, family)

    for connection in (worker, family):
        for transport in ice_transports(connection):
            assert {c.type for c in transport.iceGatherer.getLocalCandidates()} == {"relay"}
            assert {c.type for c in transport.getRemoteCandidates()} == {"relay"}
            assert selected_pair_types(transport) == [("relay", "relay")]

    channel = await asyncio.wait_for(family_channel, STEP_TIMEOUT)
    await until_open(worker_channel)
    worker_channel.send("hello from the worker")
    assert await next_message(channel) == "hello from the worker"
    channel.send("hello from the family")
    assert await next_message(worker_channel) == "hello from the family"

    frame = await first_frame(await asyncio.wait_for(remote_video, STEP_TIMEOUT))
    assert (frame.width, frame.height) == (160, 120)

    # The relay really was this coturn, and each participant authenticated as themselves.
    for participant in ("worker-1", "family-7"):
        await until_logged(coturn, f":{participant}>: incoming packet ALLOCATE processed, success")
    await until_logged(coturn, "CHANNEL_BIND processed, success")


async def refused_connection_attempt(
    coturn: coturn_process.Coturn, peers: list[RTCPeerConnection], config: TurnConfig, now: float, ends_at: float
) -> None:
    """Two peers with the given credentials: neither gets a relay nor connects within REFUSED_WINDOW."""
    worker = RTCPeerConnection(relay_only(ice_servers(config, "worker-1", now, ends_at)))
    family = RTCPeerConnection(relay_only(ice_servers(config, "family-7", now, ends_at)))
    peers += [worker, family]
    worker.createDataChannel("chat")
    worker_states, family_states = watch_states(worker), watch_states(family)

    await negotiate(worker, family)
    await asyncio.sleep(REFUSED_WINDOW)

    assert "connected" not in worker_states + family_states
    for connection in (worker, family):
        assert connection.connectionState != "connected"
        for transport in ice_transports(connection):
            assert transport.iceGatherer.getLocalCandidates() == []
    await until_logged(coturn, "Cannot find credentials of user")
    assert "ALLOCATE processed, success" not in coturn.log()


async def test_a_wrong_secret_gets_no_relay_and_never_connects(
    coturn: coturn_process.Coturn, peers: list[RTCPeerConnection]
) -> None:
    now = time.time()
    config = turn_config(coturn, secret=secrets.token_hex(32))
    await refused_connection_attempt(coturn, peers, config, now, now + SESSION_SECONDS)


async def test_an_expired_credential_gets_no_relay_and_never_connects(
    coturn: coturn_process.Coturn, peers: list[RTCPeerConnection]
) -> None:
    # Made two hours ago for a session that ended an hour ago: the expiry is in the past.
    issued = time.time() - 2 * 3600
    await refused_connection_attempt(coturn, peers, turn_config(coturn), issued, issued + 3600)


async def test_loopback_only_gathers_a_single_127_0_0_1_host_candidate(peers: list[RTCPeerConnection]) -> None:
    # No ICE servers at all, so nothing is sent anywhere (aiortc's default is a public STUN server).
    with loopback_only():
        connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peers.append(connection)
        connection.createDataChannel("chat")
        await connection.setLocalDescription(await connection.createOffer())
    candidates = connection.sctp.transport.transport.iceGatherer.getLocalCandidates()
    assert [(c.type, c.ip) for c in candidates] == [("host", "127.0.0.1")]


# --- coturn itself: what the credentials and docs/turnserver.conf rely on --------------------

DOCS_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "turnserver.conf"

# Peers the production configuration must refuse, in the spellings that reached
# loopback in coturn's past CVEs and the ranges around them.
REFUSED_IPV4 = [
    "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.255.255.255", "10.1.2.3", "100.64.0.1",
    "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.170", "192.168.1.1",
    "198.18.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
]  # fmt: skip
REFUSED_IPV6 = [
    "::1", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "::127.0.0.1", "::10.0.0.0", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "fc00::1", "fd12:3456::1",
    "fe80::1", "ff02::1", "2001:db8::1", "2002:7f00:1::1",
]  # fmt: skip
# Public addresses just outside those ranges: the list must not refuse everyone.
# CreatePermission sends nothing to the peer (RFC 8656 section 9), so no traffic leaves loopback.
PERMITTED_IPV4 = ["1.0.0.0", "8.8.8.8", "126.255.255.255", "128.0.0.0", "172.15.255.255", "172.32.0.0"]
PERMITTED_IPV6 = ["2001:4860:4860::8888", "2a00:1450::1", "fbff::1", "fe7f::1"]


@contextlib.asynccontextmanager
async def allocation(host: str, port: int, server: dict[str, object]) -> AsyncIterator[turn.TurnClientUdpProtocol]:
    """A bare TURN allocation on coturn, made with the credentials of an ice_servers() entry."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: turn.TurnClientUdpProtocol(
            (host, port), str(server["username"]), str(server["credential"]), lifetime=600, channel_refresh_time=500
        ),
        remote_addr=(host, port),
    )
    try:
        await asyncio.wait_for(protocol.connect(), STEP_TIMEOUT)
    except BaseException:
        transport.close()
        raise
    try:
        yield protocol
    finally:
        await asyncio.wait_for(protocol.delete(), STEP_TIMEOUT)  # also closes the socket


async def turn_request(protocol: turn.TurnClientUdpProtocol, method: stun.Method, **attributes: object) -> int | None:
    """Send one authenticated TURN request; None on success, else the error code."""
    request = stun.Message(message_method=method, message_class=stun.Class.REQUEST)
    request.attributes.update(attributes)
    try:
        await asyncio.wait_for(protocol.request_with_retry(request), STEP_TIMEOUT)
    except stun.TransactionFailed as failure:
        return failure.response.error_code
    return None


async def permission_results(protocol: turn.TurnClientUdpProtocol, peers: list[str]) -> dict[str, int | None]:
    return {
        peer: await turn_request(protocol, stun.Method.CREATE_PERMISSION, **{"XOR-PEER-ADDRESS": (peer, 9)})
        for peer in peers
    }


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def production_coturn(tmp_path: Path) -> Iterator[coturn_process.Coturn]:
    """coturn reading docs/turnserver.conf, with loopback listeners and --allow-loopback-peers added.

    Allowing loopback peers switches off coturn's built-in loopback ban, so every
    refusal seen here comes from the file's denied-peer-ip lines. Only the
    ``syslog`` line is dropped (the log goes to tmp_path) and TLS is off (no
    certificate here); listening on ::1 as well gives an IPv6 relay to test with.
    """
    if coturn_process.turnserver_path() is None:
        pytest.skip(f"coturn is not installed ({coturn_process.TURNSERVER} missing; apt-get install coturn)")
    lines = DOCS_CONFIG.read_text().splitlines()
    config = tmp_path / "turnserver.conf"
    config.write_text("\n".join(line for line in lines if line.strip() != "syslog") + "\n")
    extra = ["--no-tls"]
    if has_ipv6_loopback():
        extra += ["--listening-ip=::1", "--relay-ip=::1", "--allocation-default-address-family=keep"]
    with coturn_process.running(tmp_path / "coturn", secrets.token_hex(32), config_file=config, extra_args=extra) as server:
        yield server


@pytest.mark.parametrize(
    ("client_host", "refused", "permitted"),
    [("127.0.0.1", REFUSED_IPV4, PERMITTED_IPV4), ("::1", REFUSED_IPV6, PERMITTED_IPV6)],
    ids=["ipv4", "ipv6"],
)
async def test_production_config_refuses_loopback_private_and_metadata_peers_in_every_spelling(
    production_coturn: coturn_process.Coturn, client_host: str, refused: list[str], permitted: list[str]
) -> None:
    if client_host == "::1" and not has_ipv6_loopback():
        pytest.skip("no ::1 on this host, so coturn cannot make an IPv6 relay to test IPv6 peers with")
    now = time.time()
    (server,) = ice_servers(turn_config(production_coturn), "worker-1", now, now + SESSION_SECONDS)
    # A client reaching coturn over ::1 gets an IPv6 relay (allocation-default-address-family=keep).
    async with allocation(client_host, production_coturn.port, server) as protocol:
        assert await permission_results(protocol, refused) == dict.fromkeys(refused, 403)
        assert await permission_results(protocol, permitted) == dict.fromkeys(permitted, None)


async def test_production_config_keeps_two_loopback_peers_from_connecting(
    production_coturn: coturn_process.Coturn, peers: list[RTCPeerConnection]
) -> None:
    now = time.time()
    config = turn_config(production_coturn)
    worker = RTCPeerConnection(relay_only(ice_servers(config, "worker-1", now, now + SESSION_SECONDS)))
    family = RTCPeerConnection(relay_only(ice_servers(config, "family-7", now, now + SESSION_SECONDS)))
    peers += [worker, family]
    worker.createDataChannel("chat")
    states = watch_states(worker)

    await negotiate(worker, family)
    # Both get a relay, but coturn refuses the permission each needs to reach the other's 127.0.0.1 relay.
    await until_logged(production_coturn, "denied in the range: 127.0.0.0-127.255.255.255")
    await asyncio.sleep(REFUSED_WINDOW)
    assert "connected" not in states
    assert worker.connectionState != "connected"


async def test_coturn_keeps_an_allocation_made_before_expiry_alive_after_it(coturn: coturn_process.Coturn) -> None:
    """Pins the limit docs/coturn.md describes: the expiry stops new allocations, not running ones."""
    now = time.time()
    config = TurnConfig(secret=coturn.secret, urls=[coturn.turn_url], lifetime_seconds=1)
    (server,) = ice_servers(config, "family-7", now, now + SESSION_SECONDS)
    expires_at = int(str(server["username"]).split(":")[0])
    async with allocation(coturn.host, coturn.port, server) as protocol:
        await asyncio.sleep(expires_at + 1.2 - time.time())
        with pytest.raises(stun.TransactionFailed):  # a new allocation is refused...
            async with allocation(coturn.host, coturn.port, server):
                pass
        # ...but the old one still refreshes with the same, now expired, credential.
        assert await turn_request(protocol, stun.Method.REFRESH, LIFETIME=600) is None
