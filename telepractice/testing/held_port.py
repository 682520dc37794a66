"""Serve the app in the test's own process on a 127.0.0.1 port held from the moment it is chosen.

Choosing a free port, closing it and binding it again later leaves a window
in which another socket of the run can take or disturb that port; a CI run
once saw an in-process test server refuse every connection on its port.
Here the listening socket is bound first, its port goes into the settings
that must name it (the public origin), and the very same socket is handed to
aiohttp, so the port is never let go in between.
"""

from __future__ import annotations

import socket

from aiohttp import web
from aiohttp.test_utils import TestServer

from telepractice.testing.loopback import LOOPBACK_IPV4


def held_port_socket(host: str = LOOPBACK_IPV4) -> socket.socket:
    """A TCP socket bound to a port the kernel chose on ``host``, not yet listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def in_process_server(app: web.Application, sock: socket.socket) -> TestServer:
    """aiohttp's TestServer listening on ``sock`` itself rather than on a port it binds anew."""
    host, port = sock.getsockname()[:2]
    return TestServer(app, host=host, port=port, socket_factory=lambda *_: sock)
