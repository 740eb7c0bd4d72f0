"""The in-process event bus: routing decisions, failovers, health changes, vault and config.

Publishing never waits: each subscriber has a bounded queue, and when it is full the event
is dropped for that subscriber only and counted. The subscriber's next read is a
``dropped`` marker saying how many it lost, so a slow reader never slows requests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from tokenhub.clock import Clock

DEFAULT_QUEUE = 1000


@dataclass(slots=True)
class Event:
    """One thing that happened."""

    seq: int
    ts: float
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"seq": self.seq, "ts": self.ts, "type": self.type, **self.data}


class BusClosedError(Exception):
    """The bus shut down: the reader should finish."""


class Subscription:
    """One reader's bounded queue."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._closed = asyncio.Event()
        self.dropped = 0

    def offer(self, event: Event) -> None:
        """Queue the event, or drop and count it when the reader is behind."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            self._bus.dropped()

    async def next(self) -> Event:
        """The next event; a ``dropped`` marker first if events were lost.

        Raises BusClosedError once the bus shuts down.
        """
        if self.dropped:
            lost, self.dropped = self.dropped, 0
            return self._bus.make("dropped", {"count": lost})
        if not self._queue.empty():
            return self._queue.get_nowait()
        getter = asyncio.ensure_future(self._queue.get())
        closer = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({getter, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closer.cancel()
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        raise BusClosedError

    def shut(self) -> None:
        """Wake the reader: the bus is closing."""
        self._closed.set()

    async def __aiter__(self) -> AsyncIterator[Event]:
        """Events until the bus closes."""
        while True:
            try:
                yield await self.next()
            except BusClosedError:
                return

    def close(self) -> None:
        """Stop receiving events."""
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of events to subscribers; publishing is synchronous and never blocks."""

    def __init__(
        self,
        clock: Clock,
        queue_size: int = DEFAULT_QUEUE,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        self.clock = clock
        self.queue_size = queue_size
        self._on_drop = on_drop
        self._subscribers: list[Subscription] = []
        self._seq = itertools.count(1)
        self.dropped_total = 0
        self.published_total = 0

    def dropped(self) -> None:
        """Count one event a subscriber missed."""
        self.dropped_total += 1
        if self._on_drop is not None:
            self._on_drop()

    def make(self, type_: str, data: dict[str, Any]) -> Event:
        """Build an event with the next sequence number."""
        return Event(next(self._seq), self.clock.time(), type_, data)

    def publish(self, type_: str, **data: Any) -> None:
        """Send an event to every subscriber (cheap when there are none)."""
        if not self._subscribers:
            return
        self.published_total += 1
        event = self.make(type_, data)
        for subscriber in self._subscribers:
            subscriber.offer(event)

    def subscribe(self, maxsize: int | None = None) -> Subscription:
        """A new subscription with a bounded queue."""
        subscription = Subscription(self, maxsize or self.queue_size)
        self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscription."""
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    def close(self) -> None:
        """Shut down: every reader finishes (graceful daemon shutdown)."""
        for subscriber in list(self._subscribers):
            subscriber.shut()

    @property
    def subscribers(self) -> int:
        """How many readers are connected."""
        return len(self._subscribers)
