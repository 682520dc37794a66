"""FrameQueue (telepractice/signaling/frame_queue.py): which frames reach the reader in place, and in what order.

Fed as aiohttp's WebSocket parser feeds it, with a stand-in for the HTTP protocol it would pause.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMessage, WSMsgType

from telepractice.signaling.frame_queue import FrameQueue


class Protocol:
    """What the queue asks of aiohttp's protocol: whether reading is paused, and to pause it when full."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


def text(data: str) -> WSMessage:
    return WSMessage(WSMsgType.TEXT, data, None)


def queue_with_reader() -> tuple[FrameQueue, list[str | bytes]]:
    frames = FrameQueue(Protocol(), 2**16, loop=asyncio.get_running_loop())
    handed: list[str | bytes] = []
    frames.reader = handed.append
    return frames, handed


async def test_data_frames_reach_the_reader_in_place_and_in_order() -> None:
    frames, handed = queue_with_reader()
    frames.feed_data(text("one"), 3)
    frames.feed_data(WSMessage(WSMsgType.BINARY, b"two", None), 3)
    frames.feed_data(text("three"), 5)
    assert handed == ["one", b"two", "three"]
    assert frames.in_place == 3
    assert not frames._buffer  # nothing left for receive()


async def test_without_a_reader_every_frame_is_queued() -> None:
    frames = FrameQueue(Protocol(), 2**16, loop=asyncio.get_running_loop())
    frames.feed_data(text("hello"), 5)
    assert frames.in_place == 0
    assert (await frames.read()).data == "hello"


async def test_frames_behind_a_queued_control_frame_wait_for_it_then_in_place_resumes() -> None:
    frames, handed = queue_with_reader()
    frames.feed_data(text("before"), 6)
    frames.feed_data(WSMessage(WSMsgType.PING, b"", None), 0)
    frames.feed_data(text("behind the ping"), 15)
    frames.feed_data(text("behind it too"), 13)
    assert handed == ["before"]
    # receive() takes the queue in order: the ping (answered by aiohttp), then the two frames behind it.
    assert [(await frames.read()).data for _ in range(3)] == [b"", "behind the ping", "behind it too"]
    frames.feed_data(text("after"), 5)
    assert handed == ["before", "after"]
    assert frames.in_place == 2


async def test_after_a_close_nothing_more_is_handed_over() -> None:
    for closing in (WSMessage(WSMsgType.CLOSE, 1000, ""), WSMessage(WSMsgType.CLOSING, None, None),
                    WSMessage(WSMsgType.ERROR, ValueError("bad frame"), None)):
        frames, handed = queue_with_reader()
        frames.feed_data(closing, 0)
        assert frames.reader is None
        frames.feed_data(text("late"), 4)
        assert handed == []
        assert [(await frames.read()).type for _ in range(2)] == [closing.type, WSMsgType.TEXT]
