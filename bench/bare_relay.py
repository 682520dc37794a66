"""The ceiling of our stack: a bare aiohttp WebSocket relay with rooms and forwarding only. Benchmarks only.

No authentication, no validation, no limits: what telepractice's /ws would cost
if it did nothing but relay. Same stack and start-up as ``telepractice serve``
(aiohttp on uvloop's event loop, frames forwarded where aiohttp parses them
through telepractice's ``SignalingResponse``, written whole to the transport,
orjson both ways, a listen backlog of 1,024, ``gc.freeze()`` once started), so
the difference is telepractice's own work.
Listens on 127.0.0.1 only.

    python bench/bare_relay.py PORT

Wire (one JSON object per text frame):
  -> {"type": "join", "room": R, "id": ID}      first message
  <- {"type": "joined", "peers": [ids already in R]}; the others get {"type": "peer-joined", "id": ID}
  -> {"type": T, "to": ID, ...}                  any other type: forwarded to ID in the same room, plus "from"
  -> {"type": "ping", "nonce": N}                <- {"type": "pong", "nonce": N}
"""

from __future__ import annotations

import asyncio
import gc
import sys

import orjson
import uvloop
from aiohttp import WSMsgType, web

from telepractice.signaling.frame_queue import SignalingResponse
from telepractice.signaling.frames import text_frame

LISTEN_BACKLOG = 1024
ROOMS = web.AppKey("rooms", dict)


async def relay(request: web.Request) -> web.WebSocketResponse:
    # telepractice's own WebSocket response: once joined, frames are forwarded where aiohttp parses them, as
    # telepractice's are (telepractice/signaling/frame_queue.py); the ceiling of the stack has to do the same.
    ws = SignalingResponse(max_msg_size=65536, compress=False, heartbeat=None)
    await ws.prepare(request)
    rooms: dict[str, dict[str, asyncio.Transport]] = request.app[ROOMS]
    room: dict[str, asyncio.Transport] = {}
    me = ""
    transport = request.transport
    assert transport is not None

    def forward(data: str | bytes) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return  # no validation: what is not JSON is dropped
        if message.get("type") == "ping":
            transport.write(text_frame(orjson.dumps({"type": "pong", "nonce": message.get("nonce")})))
            return
        target = room.get(message.pop("to", None))
        if target is not None and not target.is_closing():
            message["from"] = me
            target.write(text_frame(orjson.dumps(message)))

    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            if me:
                forward(frame.data)  # a frame queued behind a control frame
                continue
            message = orjson.loads(frame.data)
            if message.get("type") != "join":
                break
            me, room = str(message["id"]), rooms.setdefault(str(message["room"]), {})
            transport.write(text_frame(orjson.dumps({"type": "joined", "peers": list(room)})))
            note = text_frame(orjson.dumps({"type": "peer-joined", "id": me}))
            for other in list(room.values()):
                if not other.is_closing():
                    other.write(note)
            room[me] = transport
            ws.frames.reader = forward
    except (ConnectionError, RuntimeError):
        pass
    finally:
        if room.get(me) is transport:
            del room[me]
    return ws


def main() -> None:
    app = web.Application()
    app[ROOMS] = {}
    app.router.add_get("/ws", relay)

    async def frozen(app: web.Application) -> None:
        gc.freeze()
        print("bare relay listening", flush=True)

    app.on_startup.append(frozen)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), backlog=LISTEN_BACKLOG, print=None, access_log=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
