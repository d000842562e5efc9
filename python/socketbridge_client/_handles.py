"""What the blocking client hands back: a request in flight (Call), a
streamed request (Stream) and a subscription's events (Subscription), each
waited on from any thread."""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Sequence

from ._book import Pending
from ._errors import CancelledError, TimeoutError
from ._routing import END, SubscriptionBase

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Call", "Stream", "Subscription"]



class Call:
    """A request in flight: ``result()`` waits for it, ``cancel()`` gives it up
    (and stops its handler on a server that speaks the two-way protocol)."""

    __slots__ = ("_client", "_waiting", "_done", "_result", "_error", "timeout", "_deadline", "pending", "_settle")

    def __init__(self, client: "Client", timeout: Optional[float]) -> None:
        self._client = client
        # Made only when somebody must wait: most pipelined calls are settled
        # before result() is called, and never need one.
        self._waiting: Optional[threading.Lock] = None
        self._done = False
        self._result: Any = None
        self._error: Optional[BaseException] = None
        self.timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self.pending: Optional[Pending] = None
        self._settle = self._finish

    def _finish(self, result: Any, error: Optional[BaseException]) -> None:
        if self._done:
            return
        self._result, self._error = result, error
        # Done first, then the lock looked at: a waiter that made its lock too
        # late to be released here sees done when it checks again.
        self._done = True
        waiting = self._waiting
        if waiting is not None:
            try:
                waiting.release()
            except RuntimeError:
                pass  # Settled by another thread at the same moment.

    def _wait(self, timeout: Optional[float]) -> bool:
        return self._done or self._client._reader.wait(self, timeout)

    def _wait_settled(self, timeout: Optional[float]) -> bool:
        """Waits for another thread to settle it."""
        if self._done:
            return True
        waiting = self._waiting
        if waiting is None:
            with self._client._lock:
                waiting = self._waiting
                if waiting is None:
                    waiting = threading.Lock()
                    waiting.acquire()
                    self._waiting = waiting
        if self._done:
            return True
        got = waiting.acquire(timeout=-1 if timeout is None else timeout)
        if got:
            waiting.release()
        return got or self._done

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        """The result, or raises the error (RemoteError with the server's code,
        TimeoutError once the call's timeout has passed, ...)."""
        if not self._done:
            self._client._flush()
            left = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
            if not self._wait(left):
                self._client._give_up(self, TimeoutError(self.timeout or 0))
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> bool:
        """Gives the request up; False when it had already settled."""
        if self._done:
            return False
        self._client._give_up(self, CancelledError())
        return True


class Stream:
    """A streamed request: iterate its chunks; then ``result`` is the final
    value. Leaving the loop early cancels the request on the server."""

    def __init__(self, client: "Client", call: Call) -> None:
        self._client = client
        self._call = call
        self._chunks: "queue.Queue[Any]" = queue.Queue()
        self._saw_chunk = False

    def __iter__(self) -> Iterator[Any]:
        finished = False
        try:
            while True:
                left = None
                if self._call._deadline is not None:
                    left = max(0.0, self._call._deadline - time.monotonic())
                try:
                    item = self._chunks.get(timeout=left)
                except queue.Empty:
                    self._client._give_up(self._call, TimeoutError(self._call.timeout or 0))
                    raise TimeoutError(self._call.timeout or 0) from None
                if item is END:
                    finished = True
                    if self._call._error is not None:
                        raise self._call._error
                    # A server that does not stream collects the items into the result.
                    if not self._saw_chunk and not self._client.features.intersection({"chunks"}):
                        if isinstance(self._call._result, list):
                            yield from self._call._result
                    return
                self._saw_chunk = True
                yield item
        finally:
            if not finished:
                self._call.cancel()

    @property
    def result(self) -> Any:
        """The final value, once the chunks are read (waits for it)."""
        return self._call.result()

    def cancel(self) -> bool:
        return self._call.cancel()


class Subscription(SubscriptionBase):
    """Events of the patterns subscribed, as dicts: ``{"kind": "event",
    "topic": T, "data": V}``, ``{"kind": "dropped", "count": N}`` (events the
    server or this client had to drop: told, never swallowed) or
    ``{"kind": "gap"}`` (reconnected: events meanwhile were lost).
    Leaving the loop, or ``close()``, unsubscribes."""

    def __init__(self, client: "Client", patterns: Sequence[str]) -> None:
        self._events: "queue.Queue[Any]" = queue.Queue()
        super().__init__(client, patterns, self._events.put, self._events.qsize)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        try:
            while True:
                event = self._opened(self._events.get())
                if event is None:
                    return
                yield event
        finally:
            self.close()

    def get(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The next event, or None when ``timeout`` passes first."""
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        return self._opened(item)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
