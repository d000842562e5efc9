"""The asyncio client: the blocking client's methods as coroutines and async
iterators, over asyncio streams, one reader task per connection."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence

from ._book import AnswerBook, Pending
from ._dial import Target, resolve_target
from ._errors import (
    CancelledError,
    ConnectError,
    ConnectionClosedError,
    ProtocolError,
    RemoteError,
    SocketBridgeError,
    TimeoutError,
)
from ._frames import (
    DEFAULT_MAX_BYTES,
    HEADER,
    check_length,
    check_payload,
    encode_request,
    envelope_of,
    parse_frame,
    timeout_ms_of,
)
from ._routing import (
    END,
    FEATURES,
    SubscriptionBase,
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

__all__ = ["AsyncClient", "AsyncCall", "AsyncStream", "AsyncSubscription", "connect_async"]



class AsyncCall:
    """A request in flight: ``await call.result()``, or ``call.cancel()``."""

    def __init__(self, client: "AsyncClient", timeout: Optional[float]) -> None:
        self._client = client
        self._future: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()
        self.timeout = timeout
        self.pending: Optional[Pending] = None
        self.on_end: Optional[Any] = None

    def _settle(self, result: Any, error: Optional[BaseException]) -> None:
        if self._future.done():
            return
        if error is not None:
            self._future.set_exception(error)
        else:
            self._future.set_result(result)
        if self.on_end is not None:
            self.on_end()

    def done(self) -> bool:
        return self._future.done()

    async def result(self) -> Any:
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), self.timeout)
        except asyncio.TimeoutError:
            self._client._give_up(self, TimeoutError(self.timeout or 0))
            return await self._future

    def cancel(self) -> bool:
        if self._future.done():
            return False
        self._client._give_up(self, CancelledError())
        return True


class AsyncStream:
    """``async for chunk in stream``, then ``await stream.result()``; leaving
    the loop early cancels the request on the server."""

    def __init__(self, call: AsyncCall, features: frozenset) -> None:
        self._call = call
        self._chunks: "asyncio.Queue[Any]" = asyncio.Queue()
        self._features = features
        self._saw_chunk = False

    async def __aiter__(self) -> AsyncIterator[Any]:
        finished = False
        try:
            while True:
                item = await asyncio.wait_for(self._chunks.get(), self._call.timeout)
                if item is END:
                    finished = True
                    result = await self._call.result()
                    if not self._saw_chunk and "chunks" not in self._features:
                        if isinstance(result, list):
                            for value in result:
                                yield value
                    return
                self._saw_chunk = True
                yield item
        except asyncio.TimeoutError:
            self._call._client._give_up(self._call, TimeoutError(self._call.timeout or 0))
            raise TimeoutError(self._call.timeout or 0) from None
        finally:
            if not finished:
                self._call.cancel()

    async def result(self) -> Any:
        return await self._call.result()

    def cancel(self) -> bool:
        return self._call.cancel()


class AsyncSubscription(SubscriptionBase):
    """Events as dicts (``kind`` ``event``, ``dropped`` or ``gap``), as the
    blocking Subscription; leaving the loop, or ``close()``, unsubscribes."""

    def __init__(self, client: "AsyncClient", patterns: Sequence[str]) -> None:
        self._events: "asyncio.Queue[Any]" = asyncio.Queue()
        super().__init__(client, patterns, self._events.put_nowait, self._events.qsize)

    async def __aiter__(self) -> AsyncIterator[Dict[str, Any]]:
        try:
            while True:
                event = self._opened(await self._events.get())
                if event is None:
                    return
                yield event
        finally:
            self.close()


class AsyncClient:
    """A connection to a SocketBridge server for asyncio; see :func:`connect_async`."""

    def __init__(self, target: Target, timeout: Optional[float], max_bytes: int,
                 reconnect: bool, two_way: bool, connect_timeout: Optional[float]) -> None:
        self._target = target
        self.timeout = timeout
        self._max_bytes = max_bytes
        self._reconnect = reconnect
        self._two_way = two_way
        self._connect_timeout = connect_timeout
        self._book = AnswerBook()
        self._next_id = 1
        self._writer: Optional[asyncio.StreamWriter] = None
        self._reader_task: Optional["asyncio.Task[None]"] = None
        self._linked = asyncio.Event()
        self._closed = False
        self._subscriptions: List[AsyncSubscription] = []
        self.features: frozenset = frozenset()
        self._envelope = envelope_of(target.token)

    async def _link(self, initial: bool) -> None:
        target = self._target
        try:
            if target.path is not None:
                opening = asyncio.open_unix_connection(target.path)
            else:
                context = ssl.create_default_context(cafile=target.cafile) if target.tls else None
                opening = asyncio.open_connection(
                    target.host, target.port, ssl=context,
                    server_hostname=target.host if context else None,
                )
            reader, writer = await asyncio.wait_for(opening, self._connect_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            raise ConnectError(
                target.address, f"cannot connect to {target.address}: {error or 'timed out'}"
            ) from None
        self._book = AnswerBook()
        self._writer = writer
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(reader, writer))
        self._linked.set()
        self.features = frozenset()
        if self._two_way:
            hello = self._submit({"type": "$hello", "features": FEATURES}, self._connect_timeout, internal=True)
            try:
                result = await hello.result()
            except RemoteError:
                result = None
            self.features = granted_features(result)
        if not initial and self._subscriptions:
            await self._renew()

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        failure: Optional[BaseException] = None
        first = True
        try:
            while True:
                header = await reader.readexactly(4)
                (length,) = HEADER.unpack(header)
                if length > self._max_bytes:
                    more = b""
                    if first:
                        try:
                            more = await asyncio.wait_for(reader.read(40), 0.05)
                        except asyncio.TimeoutError:
                            pass
                    check_length(length, self._max_bytes, header + more, first)
                first = False
                self._on_frame(parse_frame(await reader.readexactly(length)))
        except SocketBridgeError as error:
            failure = error
        except (asyncio.IncompleteReadError, OSError):
            failure = None
        self._lost(writer, failure)

    def _on_frame(self, frame: Any) -> None:
        route_frames(self._book, [frame], lambda topic, data: route_event(list(self._subscriptions), topic, data))

    def _lost(self, writer: asyncio.StreamWriter, failure: Optional[BaseException]) -> None:
        if self._writer is not writer:
            return
        self._writer = None
        self._linked.clear()
        writer.close()
        error = failure or ConnectionClosedError("connection closed before the answer arrived")
        for entry in self._book.drain():
            entry.finish(None, error)
        if self._closed:
            return
        if self._reconnect and not isinstance(failure, ProtocolError):
            asyncio.get_running_loop().create_task(self._redial())
        else:
            self._closed = True
            for subscription in list(self._subscriptions):
                subscription._end(error)

    async def _redial(self) -> None:
        for pause in redial_pauses():
            if self._closed:
                return
            await asyncio.sleep(pause)
            try:
                await self._link(initial=False)
                return
            except SocketBridgeError:
                pass  # Tried again after the next, longer pause.

    async def _renew(self) -> None:
        error: Optional[BaseException] = None
        try:
            await self._submit({"type": "$subscribe", "topics": all_patterns(self._subscriptions)}, self._connect_timeout, internal=True).result()
        except SocketBridgeError as failure:
            error = failure
        renewed(self._subscriptions, error)

    def _submit(self, payload: Dict[str, Any], timeout: Optional[float], on_chunk: Any = None,
                internal: bool = False, call: Optional[AsyncCall] = None) -> AsyncCall:
        call = call or AsyncCall(self, timeout)
        writer = self._writer
        if self._closed or writer is None:
            message = "client closed" if self._closed else "not connected"
            call._settle(None, ConnectionClosedError(message))
            return call
        request_id = self._next_id
        self._next_id += 1
        entry = Pending(request_id, call._settle, on_chunk, internal)
        call.pending = entry
        self._book.sent(entry)
        writer.write(encode_request(payload, self._envelope, request_id, timeout_ms_of(timeout)))
        return call

    def _give_up(self, call: AsyncCall, error: BaseException) -> None:
        entry = call.pending
        if entry is None:
            call._settle(None, error)
            return
        self._book.given_up(entry)
        if not entry.settled:
            entry.finish(None, error)
            if self.features:
                self._submit({"type": "$cancel", "target": entry.id}, 5.0, internal=True)

    async def _ready(self, timeout: Optional[float]) -> None:
        if self._writer is None and self._reconnect and not self._closed:
            try:
                await asyncio.wait_for(self._linked.wait(), timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(timeout or 0) from None

    async def submit(self, payload: Dict[str, Any], *, timeout: Optional[float] = None) -> AsyncCall:
        """Sends a request; the AsyncCall has ``result()`` and ``cancel()``."""
        check_payload(payload)
        timeout = self.timeout if timeout is None else timeout
        await self._ready(timeout)
        return self._submit(payload, timeout)

    async def request(self, payload: Dict[str, Any], *, timeout: Optional[float] = None) -> Any:
        """The result; raises RemoteError, TimeoutError... as the blocking client."""
        return await (await self.submit(payload, timeout=timeout)).result()

    async def stream(self, payload: Dict[str, Any], *, timeout: Optional[float] = None) -> AsyncStream:
        """A streamed request: ``async for chunk in await client.stream(...)``."""
        check_payload(payload)
        timeout = self.timeout if timeout is None else timeout
        await self._ready(timeout)
        call = AsyncCall(self, timeout)
        stream = AsyncStream(call, self.features)
        call.on_end = lambda: stream._chunks.put_nowait(END)
        self._submit(payload, timeout, stream._chunks.put_nowait, call=call)
        return stream

    async def subscribe(self, patterns: Sequence[str], *, timeout: Optional[float] = None) -> AsyncSubscription:
        topics = check_subscription(patterns, self.features, self._target.address)
        subscription = AsyncSubscription(self, patterns)
        self._subscriptions.append(subscription)
        try:
            await self._submit({"type": "$subscribe", "topics": topics}, timeout or self.timeout, internal=True).result()
        except BaseException:
            subscription.close()
            raise
        return subscription

    def _leave(self, subscription: AsyncSubscription) -> None:
        gone = patterns_left(self._subscriptions, subscription)
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if gone and self._writer is not None and not self._closed:
            self._submit({"type": "$unsubscribe", "topics": gone}, 5.0, internal=True)
        subscription._end()

    async def describe(self, *, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        check_describable(self.features, self._target.address)
        return described_types(await self.request({"type": "$describe"}, timeout=timeout))

    @property
    def pending(self) -> int:
        return self._book.waiting()

    async def close(self) -> None:
        self._closed = True
        writer = self._writer
        if writer is not None:
            self._lost(writer, ConnectionClosedError("client closed"))
            try:
                await writer.wait_closed()
            except OSError:
                pass
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)
        for subscription in list(self._subscriptions):
            subscription._end()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def connect_async(
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
) -> AsyncClient:
    """Connects once and returns an :class:`AsyncClient` (``async with``)."""
    target = resolve_target(host, port, path, name, token, cafile)
    client = AsyncClient(target, timeout, max_bytes, reconnect, two_way, connect_timeout)
    await client._link(initial=True)
    return client
