"""The event bus: fan-out, bounded queues, drop markers, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from tokenhub.clock import FakeClock
from tokenhub.observability.events import BusClosedError, EventBus


async def test_every_subscriber_gets_every_event():
    """Two readers each receive the events in order with increasing sequence numbers."""
    bus = EventBus(FakeClock())
    a, b = bus.subscribe(), bus.subscribe()
    bus.publish("one", x=1)
    bus.publish("two", x=2)
    for sub in (a, b):
        first, second = await sub.next(), await sub.next()
        assert (first.type, second.type) == ("one", "two")
        assert second.seq == first.seq + 1
        assert first.as_dict()["x"] == 1


async def test_slow_subscriber_drops_with_marker_and_never_blocks():
    """A full queue drops events for that reader only, and it gets a marker with the count."""
    drops: list[int] = []
    bus = EventBus(FakeClock(), on_drop=lambda: drops.append(1))
    slow, fast = bus.subscribe(maxsize=2), bus.subscribe(maxsize=100)
    for i in range(7):
        bus.publish("tick", i=i)  # synchronous: returns at once even though slow is full
    marker = await slow.next()
    assert (marker.type, marker.data) == ("dropped", {"count": 5})
    assert [(await slow.next()).data["i"] for _ in range(2)] == [0, 1]
    assert [(await fast.next()).data["i"] for _ in range(7)] == list(range(7))
    assert len(drops) == 5
    assert bus.dropped_total == 5


async def test_close_wakes_readers():
    """Closing the bus ends a reader waiting for events."""
    bus = EventBus(FakeClock())
    sub = bus.subscribe()
    waiter = asyncio.create_task(sub.next())
    await asyncio.sleep(0)
    bus.close()
    with pytest.raises(BusClosedError):
        await asyncio.wait_for(waiter, 5)


async def test_publish_without_subscribers_is_free():
    """With nobody listening nothing is built or counted."""
    bus = EventBus(FakeClock())
    bus.publish("x")
    assert bus.published_total == 0
    sub = bus.subscribe()
    sub.close()
    assert bus.subscribers == 0
