"""What the sessions layer decides, passed to every server instance of a deployment over the message bus.

A link revoked, consent withdrawn or a session cancelled is decided by
whichever instance served the HTTP request, but the person's room may live
in another instance. The deciding instance acts on its own rooms at once
and publishes one notice on a channel every instance subscribes to; each of
the others acts on its own rooms when the notice arrives. An instance skips
its own notices, since it has acted already. With one instance (the
in-process bus) the notice reaches nobody else, which is right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from telepractice.signaling.bus import MessageBus, Subscription

log = logging.getLogger("telepractice.signaling.instances")

# One channel for the whole deployment. Room channels are named by session ids (UUIDs), so this never collides.
CONTROL_CHANNEL = "~instances"

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


class Instances:
    """This instance's line to the others: ``tell`` them a notice; ``handlers`` act on theirs."""

    def __init__(self, bus: MessageBus, handlers: Mapping[str, Handler]) -> None:
        self.bus = bus
        self.handlers = dict(handlers)
        self.instance_id = uuid.uuid4().hex
        self._subscription: Subscription | None = None
        self._acting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Hear the other instances' notices from now on."""
        self._subscription = await self.bus.subscribe(CONTROL_CHANNEL, self._heard)

    async def tell(self, kind: str, **fields: str | bool) -> None:
        """Publish a notice to the other instances; a bus failure is logged, since this instance has acted."""
        if kind not in self.handlers:
            raise ValueError(f"no instance acts on a notice of kind {kind!r}")
        try:
            await self.bus.publish(CONTROL_CHANNEL, {"kind": kind, "from": self.instance_id, **fields})
        except Exception:
            # The database already holds the decision, so new joins are refused everywhere; only a live
            # connection on another instance misses it, until it next reconnects.
            log.exception("could not tell the other instances of a %s notice", kind)

    def _heard(self, notice: dict[str, Any]) -> None:
        if notice.get("from") == self.instance_id:
            return
        handler = self.handlers.get(str(notice.get("kind")))
        if handler is None:
            log.warning("ignored an instance notice of unknown kind %r", notice.get("kind"))
            return
        task = asyncio.get_running_loop().create_task(self._act(handler, notice))
        self._acting.add(task)
        task.add_done_callback(self._acting.discard)

    @staticmethod
    async def _act(handler: Handler, notice: Mapping[str, Any]) -> None:
        try:
            await handler(notice)
        except Exception:
            log.exception("acting on an instance notice of kind %r failed", notice.get("kind"))

    async def settled(self) -> None:
        """Wait until every notice heard so far has been acted on (for shutdown, and for tests)."""
        while self._acting:
            await asyncio.gather(*list(self._acting), return_exceptions=True)

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        for task in list(self._acting):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*list(self._acting), return_exceptions=True)
        await self.bus.close()
