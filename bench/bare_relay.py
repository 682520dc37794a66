"""The ceiling of our stack: a bare aiohttp WebSocket relay with rooms and forwarding only. Benchmarks only.

No authentication, no validation, no limits: what telepractice's /ws would cost
if it did nothing but relay. Same stack and start-up as ``telepractice serve``
(aiohttp on uvloop's event loop, orjson both ways, a listen backlog of 1,024,
``gc.freeze()`` once started), so the difference is telepractice's own work.
Listens on 127.0.0.1 only.

    python bench/bare_relay.py PORT

Wire (one JSON object per text frame):
  -> {"type": "join", "room": R, "id": ID}      first message
  <- {"type": "joined", "peers": [ids already in R]}; the others get {"type": "peer-joined", "id": ID}
  -> {"type": T, "to": ID, ...}                  any other type: forwarded to ID in the same room, plus "from"
  -> {"type": "ping", "nonce": N}                <- {"type": "pong", "nonce": N}
"""

from __future__ import annotations

import gc
import sys

import orjson
import uvloop
from aiohttp import WSMsgType, web

LISTEN_BACKLOG = 1024
ROOMS = web.AppKey("rooms", dict)
TEXT = WSMsgType.TEXT  # orjson writes UTF-8 bytes: sent as a text frame without a decode and re-encode


async def relay(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=65536, compress=False, heartbeat=None)
    await ws.prepare(request)
    rooms: dict[str, dict[str, web.WebSocketResponse]] = request.app[ROOMS]
    room: dict[str, web.WebSocketResponse] | None = None
    me = ""
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            message = orjson.loads(frame.data)
            kind = message.get("type")
            if room is None:
                if kind != "join":
                    break
                me, room = str(message["id"]), rooms.setdefault(str(message["room"]), {})
                await ws.send_frame(orjson.dumps({"type": "joined", "peers": list(room)}), TEXT)
                note = orjson.dumps({"type": "peer-joined", "id": me})
                for other in list(room.values()):
                    await other.send_frame(note, TEXT)
                room[me] = ws
            elif kind == "ping":
                await ws.send_frame(orjson.dumps({"type": "pong", "nonce": message.get("nonce")}), TEXT)
            else:
                target = room.get(message.pop("to", None))
                if target is not None:
                    message["from"] = me
                    await target.send_frame(orjson.dumps(message), TEXT)
    except (ConnectionError, RuntimeError):
        pass
    finally:
        if room is not None and room.get(me) is ws:
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
