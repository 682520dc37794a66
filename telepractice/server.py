"""Running the server: prepare the data directory, migrate, choose TLS, serve."""

from __future__ import annotations

import gc
import logging
import os
import ssl

import uvloop
from aiohttp import web

from telepractice.app import create_app
from telepractice.config import Settings
from telepractice.http import AccessLogger
from telepractice.storage.migrations import upgrade
from telepractice.tls import ensure_dev_certificate, server_ssl_context

log = logging.getLogger("telepractice")

# aiohttp's default of 128 overflows when a room's worth of families join at once.
LISTEN_BACKLOG = 1024
# The cyclic collector's generation thresholds (Python's default is 700, 10, 10): see serve().
GC_THRESHOLDS = (50_000, 20, 10)


def prepare_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.behind_proxy:
        return None
    if settings.tls_cert_file and settings.tls_key_file:
        return server_ssl_context(settings.tls_cert_file, settings.tls_key_file)
    cert, key = ensure_dev_certificate(settings.tls_directory)
    return server_ssl_context(cert, key)


async def migrate(settings: Settings) -> None:
    prepare_data_dir(settings)
    await upgrade(settings.database_url)


def serve(settings: Settings, banner: str = "") -> None:
    """Serve until interrupted; shutdown closes every connection (aiohttp's graceful shutdown)."""
    context = tls_context(settings)

    async def ready(app: web.Application) -> None:
        # Objects alive after start-up live for the whole run: keep the cyclic collector off them.
        gc.freeze()
        # Every connection allocates thousands of objects that live as long as it does; at the default
        # thresholds the collector rescans all of them hundreds of times a second under a join storm.
        gc.set_threshold(*GC_THRESHOLDS)
        print(banner or f"telepractice is serving {settings.public_origin}/", flush=True)

    app = create_app(settings)
    app.on_startup.append(ready)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=context,
        backlog=LISTEN_BACKLOG,
        access_log_class=AccessLogger,
        print=None,
        shutdown_timeout=10,
        # uvloop's event loop is C where asyncio's is Python: a relayed message costs the server about a third
        # less CPU on it (bench/README.md). aiortc's connection-test peer runs on it too.
        loop=uvloop.new_event_loop(),
    )
