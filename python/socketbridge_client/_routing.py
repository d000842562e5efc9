"""What the blocking and the asyncio client share beyond framing: where an
incoming frame goes (an answer to its request, a chunk to its stream, an
event to the subscriptions whose patterns match), how a subscription keeps
events for a slow loop, and the checks and errors of the two-way calls."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

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


def route_frame(
    book: AnswerBook,
    frame: Any,
    on_event: Callable[[str, Any], None],
    locked: Callable[[Callable[[], Any]], Any] = lambda work: work(),
) -> None:
    """Hands one frame to what it belongs to; a bad one raises ProtocolError."""
    if isinstance(frame, dict) and "status" not in frame:
        if "chunk" in frame:
            entry = locked(lambda: book.chunk_target(frame.get("request_id")))
            if entry is not None and entry.on_chunk is not None:
                entry.on_chunk(frame["chunk"])
            return
        if isinstance(frame.get("event"), str):
            on_event(frame["event"], frame.get("data"))
            return

    def match() -> Optional[Pending]:
        entry = book.match(frame)
        book.trim()
        return entry

    entry = locked(match)
    if entry is not None:
        entry.answer(frame)


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
