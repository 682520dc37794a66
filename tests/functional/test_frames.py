"""Frames that Connection writes itself (telepractice/signaling/frames.py), read by aiohttp's own client."""

from __future__ import annotations

from aiohttp import WSMsgType, web

from telepractice.signaling.frames import text_frame

# Each length form of RFC 6455: 7-bit (0-125), 16-bit (126-65535), 64-bit (65536 and up).
LENGTHS = [0, 1, 125, 126, 127, 4096, 65535, 65536, 70_000]


async def frames_for_each_length(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    assert request.transport is not None
    for length in LENGTHS:
        request.transport.write(text_frame(_text(length).encode("utf-8")))
    await ws.close()
    return ws


def _text(length: int) -> str:
    """``length`` bytes of UTF-8 with a two-byte character in it where there is room, so bytes and characters differ."""
    return "a" * length if length < 2 else "é" + "a" * (length - 2)


async def test_each_length_form_arrives_whole_and_in_order(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    app = web.Application()
    app.router.add_get("/", frames_for_each_length)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/", max_msg_size=0)
    received = []
    for _ in LENGTHS:
        message = await ws.receive(timeout=5)
        assert message.type is WSMsgType.TEXT, message
        received.append(message.data)
    assert received == [_text(length) for length in LENGTHS]
    assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
