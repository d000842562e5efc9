"""A client for SocketBridge servers, standard library only.

Blocking (:func:`connect`, :func:`send`) and asyncio (:func:`connect_async`).
It speaks the original SocketBridge protocol byte for byte (``send`` works
against the original Python server) and the two-way protocol of the Deno
server: many requests in flight on one connection, streamed results, events,
cancellation, ``$describe`` and discovery by name.
"""

from ._async import AsyncCall, AsyncClient, AsyncStream, AsyncSubscription, connect_async
from ._client import Call, Client, Stream, Subscription, connect
from ._errors import (
    CancelledError,
    ConnectError,
    ConnectionClosedError,
    FrameTooLargeError,
    ProtocolError,
    RemoteError,
    SocketBridgeError,
    TimeoutError,
)
from ._frames import DEFAULT_MAX_BYTES, DEFAULT_PORT, PROTOCOL_VERSION
from ._send import send

__version__ = "0.1.0"

__all__ = [
    "AsyncCall",
    "AsyncClient",
    "AsyncStream",
    "AsyncSubscription",
    "Call",
    "CancelledError",
    "Client",
    "ConnectError",
    "ConnectionClosedError",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_PORT",
    "FrameTooLargeError",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "RemoteError",
    "SocketBridgeError",
    "Stream",
    "Subscription",
    "TimeoutError",
    "connect",
    "connect_async",
    "send",
]
