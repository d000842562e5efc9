"""The errors of socketbridge_client: one base class, each with the stable
``code`` the Deno library and the wire use."""

from __future__ import annotations

import builtins
from typing import Any, Optional

__all__ = [
    "SocketBridgeError",
    "RemoteError",
    "TimeoutError",
    "ConnectError",
    "ConnectionClosedError",
    "ProtocolError",
    "CancelledError",
    "FrameTooLargeError",
]


class SocketBridgeError(Exception):
    """Base of every error this package raises on purpose; ``code`` is stable."""

    code: str = "error"

    def __init__(self, message: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class RemoteError(SocketBridgeError):
    """The server answered ``status: "error"``: its ``code`` (the original
    server sends none; it is then read from the message), ``message`` and,
    for ``invalid_payload`` and application errors, ``data``."""

    def __init__(self, code: str, message: str, data: Any = None) -> None:
        super().__init__(message, code)
        self.data = data

    @property
    def is_application_error(self) -> bool:
        """Whether the code is the application's own, not the protocol's."""
        from ._frames import PROTOCOL_CODES

        return self.code not in PROTOCOL_CODES


class TimeoutError(SocketBridgeError, builtins.TimeoutError):
    """The caller's own timeout passed before the answer came."""

    code = "timeout"

    def __init__(self, timeout: float) -> None:
        super().__init__(f"request timed out after {timeout:g} s")
        self.timeout = timeout


class ConnectError(SocketBridgeError, builtins.ConnectionError):
    """Connecting failed; the message names the address and why."""

    code = "connect_failed"

    def __init__(self, address: str, message: str) -> None:
        super().__init__(message)
        self.address = address


class ConnectionClosedError(SocketBridgeError, builtins.ConnectionError):
    """The connection closed before the answer came."""

    code = "connection_closed"


class ProtocolError(SocketBridgeError):
    """The peer broke the protocol (a frame that is not an answer, an answer
    to an id never sent or answered twice, not a SocketBridge server at all);
    the connection is closed and every waiting request fails with it."""

    code = "protocol_error"


class CancelledError(SocketBridgeError):
    """The request was cancelled by its caller."""

    code = "cancelled"

    def __init__(self, message: str = "request cancelled by its caller") -> None:
        super().__init__(message)


class FrameTooLargeError(ProtocolError):
    """A length prefix is above ``max_bytes``: refused from the prefix alone,
    nothing allocated for the body."""

    code = "payload_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"cannot read frame: length {size} exceeds max_bytes {limit}")
        self.size = size
        self.limit = limit
