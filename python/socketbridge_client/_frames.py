"""Framing and the envelope, shared by every client: a 4-byte big-endian
length, then UTF-8 JSON. No sockets here."""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, Optional, Union

from ._errors import FrameTooLargeError, ProtocolError

PROTOCOL_VERSION = "1"
DEFAULT_PORT = 7002
DEFAULT_MAX_BYTES = 1_048_576
HEADER = struct.Struct(">I")
ENVELOPE_KEYS = (
    "auth_token",
    "protocol_version",
    "request_id",
    "timeout_ms",
    "idempotency_key",
    "traceparent",
    "tracestate",
)
# The codes the protocol itself uses; any other is an application's own.
PROTOCOL_CODES = frozenset(
    {
        "payload_too_large", "invalid_json", "invalid_message", "unauthorized_host",
        "unauthorized", "protocol_mismatch", "handler_error", "timeout", "busy",
        "shutting_down", "cancelled", "unknown_type", "invalid_payload", "forbidden",
        "idempotency_conflict",
    }
)
# The original server's texts, for answers that carry no code.
ORIGINAL_TEXTS = {
    "payload too large": "payload_too_large",
    "invalid json": "invalid_json",
    "unauthorized host": "unauthorized_host",
    "unauthorized": "unauthorized",
    "protocol mismatch": "protocol_mismatch",
}

RequestId = Union[str, int]


def check_payload(payload: Any) -> Dict[str, Any]:
    """Refuses a payload that is not a dict or uses an envelope key."""
    if not isinstance(payload, dict):
        raise TypeError("cannot send payload: expected a dict")
    for key in ENVELOPE_KEYS:
        if key in payload:
            raise TypeError(f'cannot send payload: key "{key}" is reserved for the envelope')
    return payload


def frame(body: bytes) -> bytes:
    """One frame: the length prefix, then the body."""
    return HEADER.pack(len(body)) + body


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _c_encoder() -> Any:
    """The json module's C encoder with _dumps's settings, made once and
    called directly: JSONEncoder.encode() makes one per call, a third of
    encoding a small request. No cross-call state (no circular-reference
    markers: a circular payload ends in RecursionError instead), so it is
    safe from any thread. None where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder = make(
            None, json.JSONEncoder().default, json.encoder.encode_basestring,
            None, ":", ",", False, False, True,
        )
        sample = {"a": [1, 2.5, None, True], "é": "\u2028"}
        return encoder if "".join(encoder(sample, 0)) == _dumps(sample) else None
    except Exception:
        return None


_encode = _c_encoder()


def dumps(payload: Any) -> str:
    """Compact JSON text, as the server reads it (UTF-8, not ASCII-escaped)."""
    if _encode is None:
        return _dumps(payload)
    try:
        return "".join(_encode(payload, 0))
    except RecursionError:
        raise ValueError("cannot send payload: it refers to itself or nests too deeply") from None


def envelope_of(token: Optional[str]) -> str:
    """The envelope keys every request of a client carries, as JSON text."""
    version = f'"protocol_version":"{PROTOCOL_VERSION}"'
    return f'"auth_token":{json.dumps(token)},{version}' if token else version


def timeout_ms_of(timeout: Optional[float]) -> Optional[int]:
    """A timeout in seconds as the envelope's ``timeout_ms``."""
    return None if timeout is None else max(0, int(timeout * 1000))


def encode_request(
    payload: Dict[str, Any],
    envelope: str,
    request_id: Optional[RequestId] = None,
    timeout_ms: Optional[int] = None,
) -> bytes:
    """A request frame: the payload's keys, then the envelope's, spliced as
    text (no copy of the payload dict: this is the client's hot path)."""
    text = dumps(payload)
    tail = envelope
    if request_id is not None:
        tail += f',"request_id":{request_id}' if isinstance(request_id, int) else f',"request_id":{json.dumps(request_id)}'
    if timeout_ms is not None:
        tail += f',"timeout_ms":{timeout_ms}'
    text = f"{{{tail}}}" if text == "{}" else f"{text[:-1]},{tail}}}"
    body = text.encode("utf-8")
    return HEADER.pack(len(body)) + body


def error_code(answer: Dict[str, Any]) -> str:
    """The code of an error answer, read from the original's text when it has none."""
    code = answer.get("code")
    if isinstance(code, str):
        return code
    message = str(answer.get("message", ""))
    if message.startswith("handler error"):
        return "handler_error"
    return ORIGINAL_TEXTS.get(message, "handler_error")


def check_length(length: int, max_bytes: int, first: bytes, first_frame: bool) -> None:
    """Refuses a length prefix above ``max_bytes`` before anything is allocated,
    naming a peer that speaks another protocol when its first bytes show it."""
    if length <= max_bytes:
        return
    if first_frame:
        foreign = foreign_protocol(first)
        if foreign is not None:
            raise ProtocolError(f"not a SocketBridge server: it answered with {foreign}")
    raise FrameTooLargeError(length, max_bytes)


def foreign_protocol(first: bytes) -> Optional[str]:
    """HTTP, TLS, or an escaped excerpt of printable text where a length should be."""
    head = first[:4]
    if len(head) < 4:
        return None
    if head == b"HTTP" or head in (b"GET ", b"POST", b"PUT ", b"HEAD"):
        return "HTTP"
    if 0x14 <= head[0] <= 0x17 and head[1] == 0x03:
        return "TLS"
    if all(0x20 <= b <= 0x7E or b in (0x09, 0x0A, 0x0D) for b in head):
        text = first[:40].decode("utf-8", "replace")
        excerpt = json.dumps(text)[1:-1] + ("..." if len(first) > 40 else "")
        return f"text: `{excerpt}`"
    return None


# The decoder's C scanner, called directly: json.loads() wraps it in two
# regular-expression matches for surrounding whitespace and a Python frame or
# two, half the cost of parsing a small answer. Anything it does not take
# whole (whitespace around the value, trailing bytes, bad JSON) goes through
# json.loads(), which accepts or names the error as usual.
_scan = json.JSONDecoder().scan_once


def parse_frame(body: bytes) -> Any:
    """The JSON value of a frame body."""
    try:
        text = body.decode("utf-8")
        try:
            value, end = _scan(text, 0)
            if end == len(text):
                return value
        except (StopIteration, ValueError):
            pass
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"the peer sent a frame that is not JSON ({error})") from None
