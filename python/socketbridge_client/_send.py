"""``send()``: one request on its own connection, byte for byte what the
original client sends, so it works against the original server too."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Dict, Optional

from ._dial import dial, resolve_target
from ._errors import ConnectionClosedError, TimeoutError
from ._frames import (
    DEFAULT_MAX_BYTES,
    HEADER,
    PROTOCOL_VERSION,
    check_length,
    check_payload,
    frame,
    parse_frame,
)
from ._errors import ProtocolError

__all__ = ["send"]


def recv_exact(sock: socket.socket, count: int, deadline: Optional[float]) -> bytes:
    """Exactly ``count`` bytes, or ConnectionClosedError / TimeoutError."""
    chunks = []
    remaining = count
    while remaining > 0:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            sock.settimeout(left)
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionClosedError("connection closed before the answer arrived")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def send(
    payload: Dict[str, Any],
    *,
    host: Optional[str] = None,
    port: Optional[int] = None,
    path: Optional[str] = None,
    name: Optional[str] = None,
    token: Optional[str] = None,
    timeout: Optional[float] = 30.0,
    cafile: Optional[str] = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Dict[str, Any]:
    """Sends one request on a connection of its own and returns the answer
    dict, ``ok`` or ``error`` alike (check ``answer["status"]``).

    >>> send({"type": "ping"}, port=7002, token="s3cret")  # doctest: +SKIP
    {'status': 'ok', 'message': 'received', 'protocol_version': '1', 'result': {'type': 'ping'}}
    """
    check_payload(payload)
    target = resolve_target(host, port, path, name, token, cafile)
    deadline = None if timeout is None else time.monotonic() + timeout
    # As the original client: the payload's keys, then the envelope's, json.dumps defaults.
    message = dict(payload)
    message["auth_token"] = target.token or ""
    message["protocol_version"] = PROTOCOL_VERSION
    body = json.dumps(message).encode("utf-8")
    sock = dial(target, timeout)
    try:
        sock.sendall(frame(body))
        try:
            header = recv_exact(sock, 4, deadline)
            (length,) = HEADER.unpack(header)
            if length > max_bytes:
                # Up to 40 bytes more name a peer that speaks something else.
                sock.settimeout(0.05)
                try:
                    more = sock.recv(36)
                except OSError:
                    more = b""
                check_length(length, max_bytes, header + more, True)
            answer = parse_frame(recv_exact(sock, length, deadline))
        except socket.timeout:
            raise TimeoutError(timeout or 0) from None
    finally:
        sock.close()
    if not isinstance(answer, dict) or answer.get("status") not in ("ok", "error"):
        raise ProtocolError(f"the peer sent a frame that is not an answer: {str(answer)[:80]}")
    return answer
