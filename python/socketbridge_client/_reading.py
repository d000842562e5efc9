"""Reading one connection: its socket, the bytes read of it but not yet a
whole frame, and who reads it now. Two kinds of reader take turns, never at
once: a caller waiting for its own answer (it reads the socket itself, as a
hand-written client does, so the answer costs no wake-up of another thread)
and the connection's reader thread, which reads whenever something may come
that nobody is waiting on (a request not waited for yet, a stream's chunks,
events) and parks when nothing may. Who reads is decided under the client's
lock; the reading itself needs no lock."""

from __future__ import annotations

import select
import socket
import struct
import sys
import threading
import time
from typing import Any, Callable, List, Optional

from ._errors import SocketBridgeError
from ._frames import HEADER, check_length, parse_frame

# Who reads a connection now (Reading.holder).
CALLER = "caller"
READER = "reader"

_unpack = HEADER.unpack_from

# A blocking read gives up after this long (SO_RCVTIMEO), so that a caller
# whose deadline is further off than this can wait in recv() itself instead
# of poll() then recv(): on loopback the poll costs a tenth of a round trip.
# A deadline nearer than this is waited for with poll(), to the millisecond.
TICK = 0.5


def _ticking(sock: socket.socket) -> bool:
    """Sets the socket's read timeout to TICK where that is plain and safe
    (not Windows, whose sockets are undefined after one); for a plain
    socket, not TLS."""
    if sys.platform == "win32" or not hasattr(socket, "SO_RCVTIMEO"):
        return False
    seconds = int(TICK)
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, int((TICK - seconds) * 1e6))
        )
    except (OSError, struct.error):
        return False
    return True


class Reading:
    """One connection's socket and what has been read of it."""

    def __init__(self, sock: socket.socket, max_bytes: int) -> None:
        self.sock = sock
        self.max_bytes = max_bytes
        # None, CALLER or READER; changed only under the client's lock.
        self.holder: Optional[str] = None
        # Released to let the reader thread read (it waits on it while parked).
        self.wake = threading.Lock()
        self.wake.acquire()
        self._buffer = b""
        self._first = True
        # A bad frame found after good ones in the same read: raised once those are delivered.
        self.failure: Optional[SocketBridgeError] = None
        # poll() where there is one: select() refuses descriptors past 1023.
        self._poll: Any = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
        # TLS may hold decrypted bytes the socket no longer shows: its pending().
        self._pending: Optional[Callable[[], int]] = getattr(sock, "pending", None)
        self._ticking = self._pending is None and _ticking(sock)

    def frames(self, timeout: Optional[float]) -> List[Any]:
        """The whole frames of one read: [] when ``timeout`` (seconds) passes
        first. Raises EOFError at the end of the stream, OSError on a socket
        error, SocketBridgeError for a prefix past ``max_bytes`` or bad JSON.
        Only the connection's current holder calls it."""
        if self.failure is not None:
            raise self.failure
        if self._ticking and (timeout is None or timeout > TICK):
            try:
                chunk = self.sock.recv(262_144)
            except BlockingIOError:
                return []  # TICK passed: the caller looks at its deadline again.
        elif timeout is not None and not self._ready(timeout):
            return []
        else:
            chunk = self.sock.recv(262_144)
        if not chunk:
            raise EOFError
        buffer = self._buffer + chunk if self._buffer else chunk
        frames = []
        at = 0
        end = len(buffer)
        # Every whole frame of the buffer, by offset; the rest is kept once.
        try:
            while end - at >= 4:
                (length,) = _unpack(buffer, at)
                if length > self.max_bytes:
                    check_length(length, self.max_bytes, buffer[at : at + 44], self._first)
                if end - at - 4 < length:
                    break
                self._first = False
                frames.append(parse_frame(buffer[at + 4 : at + 4 + length]))
                at += 4 + length
        except SocketBridgeError as error:
            if not frames:
                raise
            # The frames before the bad one are delivered first (see `failure`).
            self.failure = error
        self._buffer = buffer[at:] if at else buffer
        return frames

    def readable(self) -> bool:
        """Something (bytes, or the end of the stream) can be read at once."""
        return self._ready(0)

    def _ready(self, timeout: float) -> bool:
        if self._pending is not None and self._pending() > 0:
            return True
        if self._poll is not None:
            return bool(self._poll.poll(max(0.0, timeout) * 1000))
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        return bool(readable)


class Reader:
    """Who reads a client's connection, turn by turn: a caller waiting for
    its answer when nobody else reads, else the connection's reader thread
    while anything may come that no caller waits for (``wanted()``). Frames
    go to ``deliver``; a lost connection to ``lost``. Uses the client's lock."""

    def __init__(
        self,
        lock: threading.Lock,
        deliver: Callable[[List[Any]], None],
        lost: Callable[[socket.socket, Optional[BaseException]], None],
        wanted: Callable[[], bool],
    ) -> None:
        self._lock = lock
        self._deliver = deliver
        self._lost = lost
        self._wanted = wanted
        self.current: Optional[Reading] = None

    def start(self, reading: Reading) -> None:
        """A new connection (the caller holds the lock): its reader thread starts, parked."""
        self.current = reading
        threading.Thread(target=self._loop, args=(reading,), name="socketbridge-reader", daemon=True).start()

    def detach(self) -> Optional[Reading]:
        """The connection is gone (the caller holds the lock); wake() its thread after."""
        reading, self.current = self.current, None
        return reading

    @staticmethod
    def wake(reading: Optional[Reading]) -> None:
        """Lets a parked reader thread see its connection is gone, and end."""
        if reading is not None and reading.holder is not READER:
            try:
                reading.wake.release()
            except RuntimeError:
                pass  # Woken already.

    def want(self) -> None:
        """Something may come that nobody waits for yet: the reader thread reads."""
        reading = self.current
        if reading is None or reading.holder is not None:
            return
        with self._lock:
            if reading is not self.current or reading.holder is not None:
                return
            reading.holder = READER
        reading.wake.release()

    def wait(self, call: Any, timeout: Optional[float]) -> bool:
        """Waits for a call to settle, at most ``timeout`` seconds: reading
        the connection itself when nobody else does, else handed its answer
        by whoever reads (``call._wait_settled``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not call._done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            reading = self._take_turn()
            if reading is None:
                return call._wait_settled(left)
            try:
                while True:
                    if call._done:
                        # Answers here already for others are read too: each
                        # saves a hand-off to the reader thread.
                        if not self._wanted() or not reading.readable():
                            break
                        left = 0.0
                    elif deadline is not None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                    if not self._read_some(reading, left):
                        break
            finally:
                self._pass_turn(reading)
        return True

    def probe(self) -> None:
        """Before a request on a quiet connection: reads what is there, so a
        connection the server closed meanwhile is noticed (and dialled again)
        before a request is sent on it."""
        reading = self._take_turn()
        if reading is None:
            return
        try:
            if reading.readable():
                self._read_some(reading, 0)
        finally:
            self._pass_turn(reading)

    def _loop(self, reading: Reading) -> None:
        """The reader thread: parked until something may come that no
        caller is reading for, then reads until nothing may."""
        while True:
            reading.wake.acquire()
            while True:
                with self._lock:
                    if reading is not self.current:
                        return
                    if not self._wanted():
                        reading.holder = None
                        break
                if not self._read_some(reading, None):
                    return

    def _read_some(self, reading: Reading, timeout: Optional[float]) -> bool:
        """One read, its frames delivered; False once the connection is lost."""
        failure: Optional[BaseException] = None
        try:
            frames = reading.frames(timeout)
            if frames:
                self._deliver(frames)
            if reading.failure is not None:
                raise reading.failure
            return True
        except SocketBridgeError as error:
            failure = error
        except (OSError, EOFError):
            pass
        self._lost(reading.sock, failure)
        return False

    def _take_turn(self) -> Optional[Reading]:
        """The connection, for this thread to read, when nobody reads it now."""
        with self._lock:
            reading = self.current
            if reading is None or reading.holder is not None:
                return None
            reading.holder = CALLER
            return reading

    def _pass_turn(self, reading: Reading) -> None:
        """A caller is done reading: the reader thread goes on if anything may still come."""
        with self._lock:
            wanted = reading is self.current and self._wanted()
            reading.holder = READER if wanted else None
        if wanted:
            reading.wake.release()
