"""Publish and subscribe signalling messages per room, between the server instances that share a session.

``MessageBus`` is what the rest of the server sees; ``InProcessBus`` serves a
single instance (and tests), ``RedisBus`` several instances through Redis
pub/sub. Messages are JSON objects; both buses hand every subscriber its own
decoded copy, so one subscriber can never change what another receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

log = logging.getLogger("telepractice.signaling.bus")

Callback = Callable[[dict[str, Any]], None]
DEFAULT_PREFIX = "telepractice:room:"
# How long subscribe() waits for Redis to confirm the subscription.
SUBSCRIBE_TIMEOUT_SECONDS = 5.0


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop delivering to this subscription's callback; closing twice is harmless."""


class MessageBus(Protocol):
    """Messages of one room, from any instance, to every subscriber of that room."""

    async def publish(self, room_id: str, message: Mapping[str, Any]) -> None: ...

    async def subscribe(self, room_id: str, callback: Callback) -> Subscription:
        """Deliver every message published to ``room_id`` from now on to ``callback``."""
        ...

    async def close(self) -> None: ...


def _encoded(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _deliver(callbacks: list[Callback], text: str, room_id: str) -> None:
    for callback in callbacks:
        try:
            callback(json.loads(text))
        except Exception:
            # One subscriber failing must not keep the message from the others.
            log.exception("a subscriber of room %s failed", room_id)


class _Registration:
    """One callback on one room of a bus; ``close`` takes it off."""

    def __init__(self, bus: InProcessBus | RedisBus, room_id: str, callback: Callback) -> None:
        self._bus = bus
        self._room_id = room_id
        self._callback = callback
        self._open = True

    async def close(self) -> None:
        if self._open:
            self._open = False
            await self._bus._remove(self._room_id, self._callback)


class InProcessBus:
    """The bus of a single server instance: delivery is a function call."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callback]] = {}

    async def publish(self, room_id: str, message: Mapping[str, Any]) -> None:
        _deliver(list(self._callbacks.get(room_id, ())), _encoded(message), room_id)

    async def subscribe(self, room_id: str, callback: Callback) -> Subscription:
        self._callbacks.setdefault(room_id, []).append(callback)
        return _Registration(self, room_id, callback)

    async def _remove(self, room_id: str, callback: Callback) -> None:
        callbacks = self._callbacks.get(room_id, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            self._callbacks.pop(room_id, None)

    async def close(self) -> None:
        self._callbacks.clear()


class RedisBus:
    """Redis pub/sub, one channel per room, one subscriber connection per instance."""

    def __init__(self, redis: Any, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pubsub = redis.pubsub()
        self._callbacks: dict[str, list[Callback]] = {}
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisBus:
        import redis.asyncio  # optional dependency: only instances sharing sessions need it

        return cls(redis.asyncio.Redis.from_url(url), prefix=prefix)

    def _channel(self, room_id: str) -> str:
        return self._prefix + room_id

    async def publish(self, room_id: str, message: Mapping[str, Any]) -> None:
        await self._redis.publish(self._channel(room_id), _encoded(message))

    async def subscribe(self, room_id: str, callback: Callback) -> Subscription:
        channel = self._channel(room_id)
        async with self._lock:
            first = channel not in self._callbacks
            self._callbacks.setdefault(channel, []).append(callback)
            if first:
                confirmed = asyncio.get_running_loop().create_future()
                self._confirmations[channel] = confirmed
                await self._pubsub.subscribe(channel)
                if self._listener is None:
                    self._listener = asyncio.create_task(self._listen())
                # Until Redis confirms, a message published elsewhere could pass us by.
                await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT_SECONDS)
        return _Registration(self, room_id, callback)

    async def _remove(self, room_id: str, callback: Callback) -> None:
        channel = self._channel(room_id)
        async with self._lock:
            callbacks = self._callbacks.get(channel, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks and channel in self._callbacks:
                del self._callbacks[channel]
                await self._pubsub.unsubscribe(channel)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading from Redis failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = _text(message.get("channel"))
        if message["type"] == "subscribe":
            confirmed = self._confirmations.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif message["type"] == "message":
            room_id = channel[len(self._prefix) :]
            _deliver(list(self._callbacks.get(channel, ())), _text(message["data"]), room_id)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._callbacks.clear()
        await self._pubsub.aclose()
        await self._redis.aclose()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
