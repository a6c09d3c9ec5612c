"""In-process publish/subscribe of live data: parameter values, alarms, staleness, events.

The bus is thread-safe and never blocks a publisher. A message is published on a *topic* (a
parameter's qualified name, or ``"alarms"``, ``"events"``, ``"links"``); a subscriber names
the topics it wants (or none, for every topic) and reads :class:`Delivery` objects from its
own bounded queue.

Sequence numbers. Each subscription numbers the messages it is sent 1, 2, 3, ... (``seq``),
so a client that relays them (a WebSocket, a script) can tell from a gap what it missed.

Slow subscribers. A publisher never waits: when a subscription's queue is full, that
subscription alone is closed with a reason (``"slow subscriber: ..."``) and removed from the
bus; the others go on receiving. The messages already queued can still be read; then
:meth:`Subscription.get` raises :class:`SubscriptionClosed` carrying the reason, and the
subscriber may resubscribe (and fetch what it missed from the archive).

Threads, not asyncio: publishers are link and processor threads. An asyncio consumer (the
server) passes ``notify=lambda: loop.call_soon_threadsafe(event.set)`` and drains with
:meth:`Subscription.drain`.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from falak.errors import FalakError, InputError

__all__ = ["ALL_TOPICS", "Bus", "Delivery", "Subscription", "SubscriptionClosed"]

ALL_TOPICS: frozenset[str] = frozenset()
"""Pass as ``topics`` (or omit) to receive every topic."""


class SubscriptionClosed(FalakError):
    """A subscription was closed (unsubscribed, dropped as slow, bus closed): see ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"subscription closed: {reason}")


@dataclass(frozen=True)
class Delivery:
    """One message as a subscriber receives it: its ``seq`` in this subscription, the topic
    it was published on and the payload (``falak.processor`` publishes
    :class:`~falak.processor.processor.ParameterValues`, alarm and staleness records)."""

    seq: int
    topic: str
    payload: Any


class Subscription:
    """A subscriber's bounded queue of deliveries; create with :meth:`Bus.subscribe`."""

    def __init__(
        self,
        bus: Bus,
        sub_id: int,
        topics: frozenset[str],
        maxsize: int,
        notify: Callable[[], None] | None,
    ) -> None:
        self.bus = bus
        self.id = sub_id
        self.topics = topics
        self.maxsize = maxsize
        self._notify = notify
        self._queue: deque[Delivery] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._seq = 0
        self.reason: str | None = None
        """Why the subscription was closed (None while open)."""

    def __repr__(self) -> str:
        state = "open" if self.reason is None else f"closed: {self.reason}"
        what = "all topics" if not self.topics else f"{len(self.topics)} topics"
        return f"<Subscription {self.id} ({what}, {len(self._queue)} queued, {state})>"

    @property
    def closed(self) -> bool:
        """True once unsubscribed, dropped as slow, or the bus closed."""
        return self.reason is not None

    @property
    def last_seq(self) -> int:
        """Sequence number of the last message sent to this subscription."""
        return self._seq

    def _offer(self, topic: str, payload: Any) -> bool:
        """Queue a message; return False (and close) when the queue is full."""
        with self._cond:
            if self.reason is not None:
                return False
            if len(self._queue) >= self.maxsize:
                self.reason = (
                    f"slow subscriber: {self.maxsize} messages queued and not read "
                    f"(last seq {self._seq}); resubscribe and fetch the gap from the archive"
                )
                self._cond.notify_all()
                ok = False
            else:
                self._seq += 1
                self._queue.append(Delivery(self._seq, topic, payload))
                self._cond.notify()
                ok = True
        if self._notify is not None:
            self._notify()
        return ok

    def _close(self, reason: str) -> None:
        with self._cond:
            if self.reason is None:
                self.reason = reason
            self._cond.notify_all()
        if self._notify is not None:
            self._notify()

    def get(self, timeout: float | None = None) -> Delivery | None:
        """Return the next delivery, waiting up to ``timeout`` s (None: forever).

        Returns None on timeout; raises :class:`SubscriptionClosed` once the subscription is
        closed and its queue is empty.
        """
        with self._cond:
            if not self._queue and self.reason is None:
                self._cond.wait_for(lambda: bool(self._queue) or self.reason is not None, timeout)
            if self._queue:
                return self._queue.popleft()
            if self.reason is not None:
                raise SubscriptionClosed(self.reason)
            return None

    def drain(self) -> list[Delivery]:
        """Return every queued delivery without waiting (an empty list if none).

        Raises :class:`SubscriptionClosed` when closed and nothing is left to read.
        """
        with self._cond:
            if not self._queue and self.reason is not None:
                raise SubscriptionClosed(self.reason)
            out = list(self._queue)
            self._queue.clear()
            return out

    def close(self) -> None:
        """Unsubscribe."""
        self.bus.unsubscribe(self)


class Bus:
    """Topic-based publish/subscribe with bounded per-subscriber queues (see module doc)."""

    def __init__(self, *, default_maxsize: int = 10_000) -> None:
        if default_maxsize < 1:
            raise InputError(f"default_maxsize must be >= 1, got {default_maxsize}")
        self.default_maxsize = default_maxsize
        self._lock = threading.Lock()
        self._by_topic: dict[str, list[Subscription]] = {}
        self._wildcard: list[Subscription] = []
        self._ids = itertools.count(1)
        self.published = 0
        """Messages published so far."""
        self.dropped_subscribers: list[tuple[int, str]] = []
        """(subscription id, reason) of every subscription dropped as slow."""
        self._closed = False

    def subscribe(
        self,
        topics: Iterable[str] | None = None,
        *,
        maxsize: int | None = None,
        notify: Callable[[], None] | None = None,
    ) -> Subscription:
        """Subscribe to ``topics`` (None or empty: every topic).

        ``maxsize`` bounds the queue (messages); ``notify`` is called (from the publisher's
        thread) after each message is queued and when the subscription closes.
        """
        names = frozenset(topics or ())
        size = self.default_maxsize if maxsize is None else maxsize
        if size < 1:
            raise InputError(f"maxsize must be >= 1 message, got {size}")
        sub = Subscription(self, next(self._ids), names, size, notify)
        with self._lock:
            if self._closed:
                sub._close("bus closed")
                return sub
            if names:
                for t in names:
                    self._by_topic.setdefault(t, []).append(sub)
            else:
                self._wildcard.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription, reason: str = "unsubscribed") -> None:
        """Remove a subscription (idempotent) and close it with ``reason``."""
        with self._lock:
            self._remove(sub)
        sub._close(reason)

    def _remove(self, sub: Subscription) -> None:
        if sub.topics:
            for t in sub.topics:
                subs = self._by_topic.get(t)
                if subs and sub in subs:
                    subs.remove(sub)
                    if not subs:
                        del self._by_topic[t]
        elif sub in self._wildcard:
            self._wildcard.remove(sub)

    def publish(self, topic: str, payload: Any) -> int:
        """Send ``payload`` to every subscriber of ``topic``; return how many got it.

        Never blocks: a subscriber whose queue is full is dropped (see module doc).
        """
        with self._lock:
            targets = self._by_topic.get(topic, []) + self._wildcard
            self.published += 1
        delivered = 0
        for sub in targets:
            if sub._offer(topic, payload):
                delivered += 1
            else:
                self._drop(sub)
        return delivered

    def has_subscribers(self, topic: str) -> bool:
        """True when someone listens to ``topic`` (lets publishers skip building payloads)."""
        return bool(self._wildcard) or topic in self._by_topic

    def _drop(self, sub: Subscription) -> None:
        with self._lock:
            self._remove(sub)
            self.dropped_subscribers.append((sub.id, sub.reason or "dropped"))

    @property
    def n_subscribers(self) -> int:
        """Number of open subscriptions."""
        with self._lock:
            subs = {id(s) for v in self._by_topic.values() for s in v}
            return len(subs) + len(self._wildcard)

    def close(self) -> None:
        """Close every subscription with reason ``"bus closed"``."""
        with self._lock:
            self._closed = True
            subs = {id(s): s for v in self._by_topic.values() for s in v}
            subs.update({id(s): s for s in self._wildcard})
            self._by_topic.clear()
            self._wildcard.clear()
        for s in subs.values():
            s._close("bus closed")
