"""A real coturn (Debian's /usr/bin/turnserver) on 127.0.0.1 for tests, stopped by its PID.

The server is started with ``--allow-loopback-peers`` because both test peers
live on 127.0.0.1; that flag is for tests only (docs/turnserver.conf keeps
production coturn from relaying to loopback and private addresses).
Everything it writes (pidfile, log, its SQLite user database) stays in the
directory the caller gives it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from aioice import stun

TURNSERVER = "/usr/bin/turnserver"
HOST = "127.0.0.1"
REALM = "telepractice.test"
RELAY_PORTS = 100  # a block of relay ports per server, so parallel test runs rarely collide


class CoturnError(RuntimeError):
    """coturn did not start, or did not listen in time; the message carries its log's tail."""


@dataclasses.dataclass(frozen=True)
class Coturn:
    """A running coturn: where it listens, the secret it checks, and where it logs."""

    pid: int
    port: int
    secret: str = dataclasses.field(repr=False)
    log_path: Path
    host: str = HOST
    realm: str = REALM

    @property
    def turn_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def stun_url(self) -> str:
        return f"stun:{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def turnserver_path() -> str | None:
    """Debian's turnserver binary, or None where coturn is not installed."""
    return TURNSERVER if os.access(TURNSERVER, os.X_OK) else shutil.which("turnserver")


def free_port(host: str = HOST) -> int:
    """A port free on ``host`` for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise CoturnError(f"no port free for both UDP and TCP on {host}")


def command(
    binary: str,
    directory: Path,
    port: int,
    secret: str,
    min_port: int,
    *,
    config_file: Path | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The turnserver command line for a loopback test server (PLATFORM.md, "coturn on loopback").

    Without ``config_file`` coturn reads no configuration file (``-n``); with
    one, it reads that file first and these options add to or override it.
    """
    return [
        binary,
        *(["-c", str(config_file)] if config_file else ["-n"]),
        "--no-cli",
        f"--listening-ip={HOST}",
        f"--relay-ip={HOST}",
        f"--listening-port={port}",
        f"--min-port={min_port}",
        f"--max-port={min_port + RELAY_PORTS - 1}",
        "--allow-loopback-peers",  # tests only: both peers are on 127.0.0.1
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--no-tls",
        "--no-dtls",
        "--fingerprint",
        "--verbose",  # logs allocations, permissions and usage: what the tests assert on
        f"--log-file={directory / 'turnserver.log'}",
        "--simple-log",
        f"--pidfile={directory / 'turnserver.pid'}",
        f"--userdb={directory / 'turndb'}",  # not /var/lib/turn/turndb
        *extra_args,
    ]


def _answers_stun(port: int) -> bool:
    """True once coturn answers a STUN Binding request on its UDP port (no credentials needed)."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.1)
        probe.sendto(bytes(request), (HOST, port))
        try:
            data = probe.recv(2048)
        except OSError:  # timeout, or ICMP port unreachable while coturn starts
            return False
    try:
        response = stun.parse_message(data)
    except ValueError:
        return False
    return response.transaction_id == request.transaction_id and response.message_class == stun.Class.RESPONSE


def _tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start(
    directory: Path,
    secret: str,
    *,
    config_file: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 10.0,
) -> tuple[Coturn, subprocess.Popen[bytes]]:
    """Start coturn on a free 127.0.0.1 port and return once it answers STUN over UDP."""
    binary = turnserver_path()
    if binary is None:
        raise CoturnError(f"coturn is not installed ({TURNSERVER} missing)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    min_port = random.randrange(49152, 65535 - RELAY_PORTS, RELAY_PORTS)
    log_path = directory / "turnserver.log"
    with open(directory / "turnserver.out", "wb") as out:
        process = subprocess.Popen(
            command(binary, directory, port, secret, min_port, config_file=config_file, extra_args=extra_args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the test run reaches us, not coturn
        )
    server = Coturn(pid=process.pid, port=port, secret=secret, log_path=log_path)
    deadline = time.monotonic() + timeout
    while not _answers_stun(port):
        if process.poll() is not None:
            raise CoturnError(f"coturn exited with {process.returncode}:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            stop(process)
            raise CoturnError(f"coturn did not listen on {HOST}:{port} within {timeout} s:\n{_tail(log_path)}")
        time.sleep(0.02)
    return server, process


def stop(process: subprocess.Popen[bytes], *, timeout: float = 5.0) -> None:
    """Stop the coturn we started, by its PID: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


@contextlib.contextmanager
def running(
    directory: Path,
    secret: str,
    *,
    config_file: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 10.0,
) -> Iterator[Coturn]:
    """A coturn on 127.0.0.1 for the duration of the ``with`` block."""
    server, process = start(directory, secret, config_file=config_file, extra_args=extra_args, timeout=timeout)
    try:
        yield server
    finally:
        stop(process)
