"""Where a client connects (TCP, TLS, a Unix socket, or a name), settled
once, and the blocking connect that names the address when it fails."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Optional

from ._discovery import resolve_name
from ._errors import ConnectError
from ._frames import DEFAULT_PORT


@dataclass(frozen=True)
class Target:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    path: Optional[str] = None
    cafile: Optional[str] = None
    tls: bool = False
    token: Optional[str] = None

    @property
    def address(self) -> str:
        if self.path is not None:
            return self.path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def resolve_target(
    host: Optional[str] = None,
    port: Optional[int] = None,
    path: Optional[str] = None,
    name: Optional[str] = None,
    token: Optional[str] = None,
    cafile: Optional[str] = None,
) -> Target:
    """Checks the options and resolves a name (its address and token)."""
    if name is not None:
        if host is not None or port is not None or path is not None:
            raise ValueError("name (a published server) goes without host, port and path")
        record = resolve_name(name)
        if record.get("transport") == "unix":
            return Target(path=record["path"], token=token or record.get("token"))
        return Target(
            host=record.get("hostname", "127.0.0.1"),
            port=int(record["port"]),
            tls=record.get("transport") == "tls" or cafile is not None,
            cafile=cafile,
            token=token or record.get("token"),
        )
    if path is not None:
        if host is not None or port is not None:
            raise ValueError("path (a Unix socket) goes without host and port")
        if cafile is not None:
            raise ValueError("TLS is not available over a Unix socket")
        return Target(path=path, token=token)
    if port is not None and (not isinstance(port, int) or not 0 < port < 65_536):
        raise ValueError(f"cannot connect to port {port!r}: expected a whole number from 1 to 65535")
    return Target(
        host=host or "127.0.0.1",
        port=port or DEFAULT_PORT,
        cafile=cafile,
        tls=cafile is not None,
        token=token,
    )


def dial(target: Target, timeout: Optional[float]) -> socket.socket:
    """A connected socket, or ConnectError naming the address and why."""
    try:
        if target.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(target.path)
        else:
            sock = socket.create_connection((target.host, target.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.tls:
                context = ssl.create_default_context(cafile=target.cafile)
                sock = context.wrap_socket(sock, server_hostname=target.host)
    except ConnectionRefusedError:
        raise ConnectError(
            target.address, f"cannot connect to {target.address}: nothing listens there"
        ) from None
    except FileNotFoundError:
        raise ConnectError(
            target.address, f"cannot connect to {target.address}: no socket file at that path"
        ) from None
    except (OSError, ssl.SSLError) as error:
        raise ConnectError(target.address, f"cannot connect to {target.address}: {error}") from None
    sock.settimeout(None)
    return sock
