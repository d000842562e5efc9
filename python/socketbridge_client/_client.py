"""The blocking client: one connection, one reader thread, any number of
requests in flight from any number of threads, streams, subscriptions and
cancellation, and reconnection with backoff that never resends a request."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from ._book import AnswerBook, Pending
from ._dial import Target, dial, resolve_target
from ._errors import (
    ConnectionClosedError,
    ProtocolError,
    RemoteError,
    SocketBridgeError,
    TimeoutError,
)
from ._frames import (
    DEFAULT_MAX_BYTES,
    check_payload,
    encode_request,
    envelope_of,
    timeout_ms_of,
)
from ._handles import Call, Stream, Subscription
from ._reading import Reader, Reading
from ._routing import (
    END,
    FEATURES,
    all_patterns,
    check_describable,
    check_subscription,
    described_types,
    granted_features,
    patterns_left,
    redial_pauses,
    renewed,
    route_event,
    route_frames,
)

__all__ = ["Client", "Call", "Stream", "Subscription", "connect"]


class Client:
    """A connection to a SocketBridge server; see :func:`connect`."""

    def __init__(
        self,
        target: Target,
        timeout: Optional[float],
        max_bytes: int,
        reconnect: bool,
        two_way: bool,
        connect_timeout: Optional[float],
    ) -> None:
        self._target = target
        self.timeout = timeout
        self._max_bytes = max_bytes
        self._reconnect = reconnect
        self._two_way = two_way
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._book = AnswerBook()
        self._next_id = 1
        self._sock: Optional[socket.socket] = None
        self._reader = Reader(
            self._lock,
            self._on_frames,
            self._lost,
            lambda: bool(self._subscriptions) or not self._book.empty(),
        )
        self._linked = threading.Event()
        self._closed = False
        self._subscriptions: List[Subscription] = []
        self.features: frozenset = frozenset()
        self._envelope = envelope_of(target.token)
        # Requests queued for the socket; a caller that waits flushes them at
        # once, the writer thread otherwise (so submit() batches naturally).
        self._outbox: List[bytes] = []
        self._wake_flusher = threading.Lock()
        self._wake_flusher.acquire()
        self._flusher_waiting = False
        threading.Thread(target=self._write_loop, daemon=True).start()
        self._link(initial=True)

    # -- the link ---------------------------------------------------------

    def _link(self, initial: bool) -> None:
        sock = dial(self._target, self._connect_timeout)
        with self._lock:
            self._sock = sock
            self._book = AnswerBook()
            self._reader.start(Reading(sock, self._max_bytes))
        self._linked.set()
        self.features = frozenset()
        if self._two_way:
            answer = self._submit({"type": "$hello", "features": FEATURES}, self._connect_timeout, internal=True)
            try:
                result = answer.result()
            except RemoteError:
                result = None
            self.features = granted_features(result)
        if not initial and self._subscriptions:
            self._renew()

    def _locked(self, work: Any) -> Any:
        with self._lock:
            return work()

    def _on_frames(self, frames: List[Any]) -> None:
        route_frames(self._book, frames, self._on_event, self._lock)

    def _on_event(self, topic: str, data: Any) -> None:
        route_event(self._locked(lambda: list(self._subscriptions)), topic, data)

    def _lost(self, sock: socket.socket, failure: Optional[BaseException]) -> None:
        with self._lock:
            if self._sock is not sock:
                return
            self._sock = None
            reading = self._reader.detach()
            closing = self._closed
            redial = not closing and self._reconnect and not isinstance(failure, ProtocolError)
            # Only a link to come is waited for: without one, a request made
            # now finds no socket and fails at once, not at its timeout.
            if redial:
                self._linked.clear()
            else:
                self._closed = True
            waiting = self._book.drain()
        self._reader.wake(reading)
        try:
            sock.close()
        except OSError:
            pass
        error = failure or ConnectionClosedError("connection closed before the answer arrived")
        for entry in waiting:
            entry.finish(None, error)
        if closing:
            return
        if redial:
            threading.Thread(target=self._redial, daemon=True).start()
        else:
            for subscription in list(self._subscriptions):
                subscription._end(error)

    def _redial(self) -> None:
        for pause in redial_pauses():
            if self._closed:
                return
            time.sleep(pause)
            try:
                self._link(initial=False)
                return
            except SocketBridgeError:
                pass  # Tried again after the next, longer pause.

    def _renew(self) -> None:
        error: Optional[BaseException] = None
        try:
            self._submit({"type": "$subscribe", "topics": all_patterns(self._subscriptions)}, self._connect_timeout, internal=True).result()
        except SocketBridgeError as failure:
            error = failure
        renewed(self._subscriptions, error)

    # -- requests ---------------------------------------------------------

    def _submit(
        self,
        payload: Dict[str, Any],
        timeout: Optional[float],
        on_chunk: Any = None,
        internal: bool = False,
        call: Optional[Call] = None,
        wake_writer: bool = True,
    ) -> Call:
        call = call or Call(self, timeout)
        if self._closed:
            call._settle(None, ConnectionClosedError("client closed"))
            return call
        if not self._linked.is_set() and not self._linked.wait(timeout):
            call._settle(None, TimeoutError(timeout or 0))
            return call
        with self._lock:
            sock = self._sock
            if sock is None:
                call._settle(None, ConnectionClosedError("connection closed; reconnect is off"))
                return call
            request_id = self._next_id
            self._next_id += 1
            entry = Pending(request_id, call._settle, on_chunk, internal)
            call.pending = entry
            self._book.sent(entry)
            # Queued in id order under the lock: a server that answers in order
            # (the original) must see requests in the order the book expects.
            self._outbox.append(encode_request(payload, self._envelope, request_id, timeout_ms_of(timeout)))
        # A caller about to wait flushes itself (no thread to wake); a call
        # that may never be waited on is written by the writer thread.
        if wake_writer and not self._flusher_waiting:
            self._flusher_waiting = True
            self._wake_flusher.release()
        return call

    def _flush(self) -> None:
        """Writes every queued request in one write: what the caller waiting
        for an answer does at once, and the writer thread otherwise."""
        if not self._outbox:
            return
        with self._write_lock:
            # Taken under the lock submit() appends under: no request is left behind.
            with self._lock:
                sock = self._sock
                outbox, self._outbox = self._outbox, []
            if not outbox or sock is None:
                return
            try:
                sock.sendall(b"".join(outbox))
            except OSError:
                pass  # The reader sees the loss and fails the requests.

    def _write_loop(self) -> None:
        while not self._closed:
            self._wake_flusher.acquire()
            self._flusher_waiting = False
            # Requests no caller has flushed (nobody waits for them yet): if
            # nobody reads, the reader thread reads their answers. A caller
            # that waits flushes first and reads itself.
            if self._outbox:
                self._reader.want()
            self._flush()

    def _give_up(self, call: Call, error: BaseException) -> None:
        entry = call.pending
        with self._lock:
            if entry is not None:
                self._book.given_up(entry)
        if entry is not None and not entry.settled:
            entry.finish(None, error)
            if "chunks" in self.features or "events" in self.features:
                try:
                    self._submit({"type": "$cancel", "target": entry.id}, 5.0, internal=True)
                except SocketBridgeError:
                    pass
        elif entry is None:
            call._settle(None, error)

    def submit(self, payload: Dict[str, Any], *, timeout: Optional[float] = None) -> Call:
        """Sends a request and returns its Call at once (``result()``, ``cancel()``)."""
        check_payload(payload)
        return self._submit(payload, self.timeout if timeout is None else timeout)

    def request(self, payload: Dict[str, Any], *, timeout: Optional[float] = None) -> Any:
        """The request's result; raises RemoteError (``code``, ``data``) for an
        error answer, TimeoutError once ``timeout`` seconds have passed."""
        check_payload(payload)
        if self._reconnect:
            self._reader.probe()
        call = self._submit(payload, self.timeout if timeout is None else timeout, wake_writer=False)
        return call.result()

    def stream(self, payload: Dict[str, Any], *, timeout: Optional[float] = None) -> Stream:
        """A streamed request: ``for chunk in stream``, then ``stream.result``."""
        check_payload(payload)
        call = Call(self, self.timeout if timeout is None else timeout)
        stream = Stream(self, call)

        def settled(result: Any, error: Optional[BaseException]) -> None:
            call._finish(result, error)
            stream._chunks.put(END)

        call._settle = settled
        self._submit(payload, call.timeout, stream._chunks.put, call=call)
        self._flush()
        # Its chunks come while nobody waits on a result: the reader thread reads them.
        self._reader.want()
        return stream

    def subscribe(self, patterns: Sequence[str], *, timeout: Optional[float] = None) -> Subscription:
        """Subscribes to topic patterns (``jobs.*.done``, ``logs.>``)."""
        topics = check_subscription(patterns, self.features, self._target.address)
        subscription = Subscription(self, patterns)
        with self._lock:
            self._subscriptions.append(subscription)
        try:
            self._submit({"type": "$subscribe", "topics": topics}, timeout or self.timeout, internal=True).result()
        except BaseException:
            subscription.close()
            raise
        return subscription

    def _leave(self, subscription: Subscription) -> None:
        with self._lock:
            gone = patterns_left(self._subscriptions, subscription)
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
        if gone and self._sock is not None and not self._closed:
            self._submit({"type": "$unsubscribe", "topics": gone}, 5.0, internal=True)
        subscription._end()

    def describe(self, *, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """The request types the server declares (``$describe``)."""
        check_describable(self.features, self._target.address)
        return described_types(self.request({"type": "$describe"}, timeout=timeout))

    @property
    def pending(self) -> int:
        """Requests sent and waiting for their answer."""
        with self._lock:
            return self._book.waiting()

    def close(self) -> None:
        """Closes the connection; waiting requests fail with ConnectionClosedError."""
        self._flush()
        self._closed = True
        if not self._flusher_waiting:
            self._flusher_waiting = True
            self._wake_flusher.release()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._lost(sock, ConnectionClosedError("client closed"))
        for subscription in list(self._subscriptions):
            subscription._end()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    *,
    host: Optional[str] = None,
    port: Optional[int] = None,
    path: Optional[str] = None,
    name: Optional[str] = None,
    token: Optional[str] = None,
    timeout: Optional[float] = None,
    connect_timeout: Optional[float] = 10.0,
    cafile: Optional[str] = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    reconnect: bool = False,
    two_way: bool = True,
) -> Client:
    """Connects once and returns a :class:`Client` (a context manager).

    By ``name`` the address and token come from the server's discovery file.
    ``timeout`` (seconds) is the default of every request, sent to the server
    as ``timeout_ms``. With ``reconnect`` a lost connection is dialled again
    with backoff; requests in flight at the loss fail (none is ever resent).
    """
    target = resolve_target(host, port, path, name, token, cafile)
    return Client(target, timeout, max_bytes, reconnect, two_way, connect_timeout)
