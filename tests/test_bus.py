"""The live bus: topics, per-subscription sequence numbers, slow subscribers dropped alone."""

from __future__ import annotations

import threading

import pytest

from falak.bus import Bus, SubscriptionClosed
from falak.errors import InputError


def test_topics_and_sequence_numbers() -> None:
    bus = Bus()
    a = bus.subscribe(["/T/A"])
    everything = bus.subscribe()
    assert bus.publish("/T/A", 1) == 2
    assert bus.publish("/T/B", 2) == 1
    assert bus.publish("/T/A", 3) == 2
    got_a = a.drain()
    assert [(d.seq, d.topic, d.payload) for d in got_a] == [(1, "/T/A", 1), (2, "/T/A", 3)]
    got_all = everything.drain()
    assert [d.seq for d in got_all] == [1, 2, 3]
    assert [d.payload for d in got_all] == [1, 2, 3]
    assert a.get(timeout=0.01) is None
    assert bus.n_subscribers == 2


def test_slow_subscriber_is_dropped_with_a_reason_and_never_blocks_the_others() -> None:
    bus = Bus()
    slow = bus.subscribe(["p"], maxsize=3)
    fast = bus.subscribe(["p"], maxsize=3)
    received: list[int] = []
    for i in range(10):
        bus.publish("p", i)
        received.extend(d.seq for d in fast.drain())  # the fast one keeps up
    assert received == list(range(1, 11))
    assert slow.closed
    assert slow.reason is not None
    assert slow.reason.startswith("slow subscriber: 3 messages queued and not read (last seq 3)")
    assert bus.dropped_subscribers == [(slow.id, slow.reason)]
    # what was queued before the drop is still readable, then the reason is raised
    assert [d.payload for d in slow.drain()] == [0, 1, 2]
    with pytest.raises(SubscriptionClosed, match="slow subscriber"):
        slow.get(timeout=0)
    assert bus.n_subscribers == 1


def test_get_wakes_on_publish_from_another_thread_and_on_close() -> None:
    bus = Bus()
    sub = bus.subscribe(["x"])
    t = threading.Timer(0.05, bus.publish, args=("x", "hello"))
    t.start()
    d = sub.get(timeout=5)
    assert d is not None
    assert d.payload == "hello"
    threading.Timer(0.05, sub.close).start()
    with pytest.raises(SubscriptionClosed, match="unsubscribed"):
        sub.get(timeout=5)


def test_notify_callback_and_bus_close() -> None:
    bus = Bus()
    calls: list[int] = []
    sub = bus.subscribe(notify=lambda: calls.append(1))
    bus.publish("a", 1)
    assert calls == [1]
    bus.close()
    assert sub.reason == "bus closed"
    assert repr(sub) == f"<Subscription {sub.id} (all topics, 1 queued, closed: bus closed)>"
    late = bus.subscribe(["a"])
    assert late.closed


def test_bad_queue_size_is_refused() -> None:
    with pytest.raises(InputError, match="maxsize must be >= 1"):
        Bus().subscribe(maxsize=0)
