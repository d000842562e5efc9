"""Servers for the tests: the real Deno tour server (examples/server.ts),
the fixture of the original Python server, and misbehaving ones. A test that
needs Deno and cannot find it fails (set DENO to its path, or put it on PATH)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from typing import Any, Callable, Optional

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "python"))

# Discovery files of the tests' servers live in a directory of their own.
RUNTIME = tempfile.mkdtemp(prefix="socketbridge-py-")
os.environ["XDG_RUNTIME_DIR"] = RUNTIME


def deno() -> str:
    path = os.environ.get("DENO") or shutil.which("deno")
    if path is None:
        raise RuntimeError(
            "deno is not installed: the Python client's tests need the Deno tour server "
            "(npm i -g deno@2.9.6, or set DENO)"
        )
    return path


class Process:
    """A child process that printed "listening on HOST:PORT" (or a path) first."""

    def __init__(self, args, env=None) -> None:
        self.process = subprocess.Popen(
            args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"{' '.join(args)} did not start: {line} {self.process.stderr.read()}")
        where = line[len("listening on "):]
        self.port = int(where.rsplit(":", 1)[1]) if ":" in where else None
        # Keep reading so the child never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.stop()


def tour_server(*extra: str, port: int = 0, name: Optional[str] = None, token: str = "tok") -> Process:
    args = [
        deno(), "run", "--allow-net", "--allow-env", "--allow-sys=uid", "--allow-read",
        "--allow-write", "examples/server.ts",
    ]
    args += ["--token", token] if token else ["--no-token"]
    if "--path" not in extra:
        args += ["--port", str(port)]
    if name is not None:
        args += ["--name", name]
    return Process(args + list(extra))


def original_server(token: str) -> Process:
    return Process([sys.executable, os.path.join(REPO, "tests/fixtures/original_server.py"), token])


class RawServer:
    """A TCP server on loopback that runs ``behave(conn)`` for each connection."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._behave = behave
        self._conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self._behave(conn)
        except OSError:
            pass

    def close(self) -> None:
        self._listener.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


def read_exact(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(conn: socket.socket) -> bytes:
    return read_exact(conn, int.from_bytes(read_exact(conn, 4), "big"))


def frame(value: Any) -> bytes:
    """A frame of ``value`` as JSON, as a raw test server writes it."""
    body = json.dumps(value).encode()
    return len(body).to_bytes(4, "big") + body


def ok(request_id: Any, result: Any = None) -> dict:
    """An ok answer, as our server writes one."""
    return {"status": "ok", "message": "received", "protocol_version": "1", "request_id": request_id, "result": result}


class TourServerCase(unittest.TestCase):
    """Tests against one tour server of the class's own (``tour_options``
    are its flags); ``connect()`` gives a client closed after the test."""

    tour_options: dict = {}

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = tour_server(**cls.tour_options)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def connect(self, **options: Any) -> Any:
        import socketbridge_client as sb

        client = sb.connect(port=self.server.port, token="tok", timeout=10, **options)
        self.addCleanup(client.close)
        return client
