"""A stand-in for telepractice behind the README's nginx: it answers every request with the headers it received.

A WebSocket upgrade to /ws gets them as its first message, so a test sees what
telepractice would see on its signalling socket too. Like telepractice, it
sends its own Strict-Transport-Security, which the proxy is meant to replace.
Run as ``python header_echo.py PORT``; it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import sys

from aiohttp import web

OWN_HSTS = "max-age=1"


def received(request: web.Request) -> dict[str, object]:
    return {"method": request.method, "path": request.path_qs, "headers": dict(request.headers)}


async def websocket(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return web.json_response(received(request), headers={"Strict-Transport-Security": OWN_HSTS})
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.send_json(received(request))
    await socket.close()
    return socket


async def anything(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(received(request), headers={"Strict-Transport-Security": OWN_HSTS})


def main() -> None:
    app = web.Application()
    app.router.add_get("/ws", websocket)
    app.router.add_route("*", "/{tail:.*}", anything)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
