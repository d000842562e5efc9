"""What the blocking and the asyncio client share beyond framing: where an
incoming frame goes (an answer to its request, a chunk to its stream, an
event to the subscriptions whose patterns match), how a subscription keeps
events for a slow loop and ends, what a new connection renews (features,
subscriptions, the pauses between tries), and the checks and errors of the
two-way calls."""

from __future__ import annotations

import random
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ._book import AnswerBook, Pending
from ._errors import ProtocolError
from ._topics import check_pattern, matches

FEATURES = ["chunks", "events"]
MAX_QUEUED_EVENTS = 10_000


class EventBuffer:
    """A subscription's events as its loop has not read them yet: at most
    MAX_QUEUED_EVENTS, and what is dropped past that told in order, as a
    ``{"kind": "dropped", "count": N}`` entry before the next event."""

    def __init__(self, put: Callable[[Any], None], size: Callable[[], int]) -> None:
        self._put = put
        self._size = size
        self._lost = 0
        self.closed = False

    def push(self, event: Dict[str, Any]) -> None:
        if self.closed:
            return
        if event["kind"] == "event" and self._size() >= MAX_QUEUED_EVENTS:
            self._lost += 1
            return
        if self._lost:
            self._put({"kind": "dropped", "count": self._lost})
            self._lost = 0
        self._put(event)


END = object()
"""What ends a stream's chunks or a subscription's events in its queue."""


class SubscriptionBase:
    """What the blocking and the asyncio subscriptions share: their patterns,
    the buffer events go through into their queue, and how they end."""

    def __init__(self, client: Any, patterns: Sequence[str], put: Callable[[Any], None],
                 size: Callable[[], int]) -> None:
        self.patterns = tuple(patterns)
        self._client = client
        self._put = put
        self._buffer = EventBuffer(put, size)
        self._push = self._buffer.push
        self.closed = False

    def _end(self, error: Optional[BaseException] = None) -> None:
        self._put(error if error is not None else END)

    @staticmethod
    def _opened(item: Any) -> Optional[Dict[str, Any]]:
        """An item taken from the queue: None at the end, raised if an error."""
        if item is END:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        if self.closed:
            return
        self.closed = self._buffer.closed = True
        self._client._leave(self)


def granted_features(hello_result: Any) -> frozenset:
    """The features a server granted in its answer to ``$hello`` (none for a
    server that refused it or answered something else)."""
    if isinstance(hello_result, dict) and isinstance(hello_result.get("features"), list):
        return frozenset(str(f) for f in hello_result["features"])
    return frozenset()


def redial_pauses() -> Iterator[float]:
    """The pauses before each new try at a lost connection: from 0.1 s,
    doubling to 5 s, each jittered down by up to half."""
    delay = 0.1
    while True:
        yield delay * (0.5 + random.random() / 2)
        delay = min(delay * 2, 5.0)


def all_patterns(subscriptions: Iterable[Any]) -> List[str]:
    """Every pattern subscribed, once each: what a new connection subscribes again."""
    return sorted({p for s in subscriptions for p in s.patterns})


def renewed(subscriptions: Iterable[Any], error: Optional[BaseException]) -> None:
    """After subscribing again on a new connection: each subscription is told
    of the gap, or ended with the error when the server refused."""
    for subscription in list(subscriptions):
        if error is not None:
            subscription._end(error)
        else:
            subscription._push({"kind": "gap"})


# What a frame is, as route_of() tells it.
ANSWER = "answer"
CHUNK = "chunk"
EVENT = "event"


def route_of(book: AnswerBook, frame: Any) -> Tuple[str, Optional[Pending]]:
    """What a frame is and the request it belongs to (None: one given up, or
    an event); the caller holds the lock. A bad frame raises ProtocolError."""
    if type(frame) is dict and "status" not in frame:
        if "chunk" in frame:
            return CHUNK, book.chunk_target(frame.get("request_id"))
        if isinstance(frame.get("event"), str):
            return EVENT, None
    return ANSWER, book.match(frame)


def route_frames(
    book: AnswerBook,
    frames: List[Any],
    on_event: Callable[[str, Any], None],
    lock: ContextManager[Any] = nullcontext(),
) -> None:
    """Hands frames to what they belong to, in order: their requests are
    looked up under one hold of ``lock`` for the lot (an answer's, a
    chunk's), and each is delivered after it is let go. A frame that belongs
    to nothing is a ProtocolError, raised once those before it are delivered."""
    routed: List[Tuple[Tuple[str, Optional[Pending]], Any]] = []
    failure: Optional[ProtocolError] = None
    with lock:
        for frame in frames:
            try:
                routed.append((route_of(book, frame), frame))
            except ProtocolError as error:
                failure = error
                break
        book.trim()
    for (kind, entry), frame in routed:
        deliver(kind, entry, frame, on_event)
    if failure is not None:
        raise failure


def deliver(kind: str, entry: Optional[Pending], frame: Any, on_event: Callable[[str, Any], None]) -> None:
    """Hands a frame, once routed, to its request or to the subscriptions."""
    if kind is ANSWER:
        if entry is not None:
            entry.answer(frame)
    elif kind is CHUNK:
        if entry is not None and entry.on_chunk is not None:
            entry.on_chunk(frame["chunk"])
    else:
        on_event(frame["event"], frame.get("data"))


def route_event(subscriptions: Iterable[Any], topic: str, data: Any) -> None:
    """An event frame to every subscription whose patterns match (``$dropped`` to all)."""
    if topic == "$dropped":
        count = data.get("count", 1) if isinstance(data, dict) else 1
        for subscription in subscriptions:
            subscription._push({"kind": "dropped", "count": count})
        return
    for subscription in subscriptions:
        if any(matches(pattern, topic) for pattern in subscription.patterns):
            subscription._push({"kind": "event", "topic": topic, "data": data})


def check_subscription(patterns: Sequence[str], features: frozenset, address: str) -> List[str]:
    """The patterns, checked, when the server offers events."""
    if isinstance(patterns, str) or not patterns:
        raise ValueError("expected a non-empty list of topic patterns")
    for pattern in patterns:
        check_pattern(pattern)
    if "events" not in features:
        raise ProtocolError(
            f"cannot subscribe: the server at {address} does not offer events "
            "(an original SocketBridge server has no two-way protocol)"
        )
    return list(patterns)


def patterns_left(subscriptions: Iterable[Any], leaving: Any) -> List[str]:
    """The patterns of `leaving` that no other subscription still needs."""
    still = {p for s in subscriptions if s is not leaving for p in s.patterns}
    return [p for p in leaving.patterns if p not in still]


def check_describable(features: frozenset, address: str) -> None:
    if not features:
        raise ProtocolError(
            f"cannot describe: the server at {address} does not speak the "
            "two-way protocol (an original SocketBridge server)"
        )


def described_types(result: Any) -> List[Dict[str, Any]]:
    if not isinstance(result, dict) or not isinstance(result.get("types"), list):
        raise ProtocolError("the server answered $describe without types")
    return result["types"]
