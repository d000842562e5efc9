"""The Python client against the Deno tour server, next to the original
client and a hand-written floor, in the same run: requests per second,
sequential (one in flight) and pipelined (64 in flight), medians of
interleaved rounds, each as a ratio to the floor of the same round.

    python3 python/bench.py [--rounds 3] [--seconds 2] [--port PORT]

Without --port it starts the tour server (needs deno on PATH or DENO).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "tests"))

import socketbridge_client as sb  # noqa: E402

PAYLOAD = {"type": "echo", "user": "ada", "items": [1, 2, 3], "note": "a small request"}
HEADER = struct.Struct(">I")


def original_client(port: int, seconds: float, depth: int) -> int:
    """The original client: json.dumps, one connection per message (depth is always 1)."""
    count = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        message = dict(PAYLOAD)
        message["auth_token"] = ""
        message["protocol_version"] = "1"
        data = json.dumps(message).encode("utf-8")
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(HEADER.pack(len(data)) + data)
            header = b""
            while len(header) < 4:
                header += sock.recv(4 - len(header))
            (length,) = HEADER.unpack(header)
            body = b""
            while len(body) < length:
                body += sock.recv(length - len(body))
            json.loads(body)
        count += 1
    return count


def floor_client(port: int, seconds: float, depth: int) -> int:
    """What a competent engineer writes by hand: one connection, ids, batched
    sendall of `depth` requests, buffered reads, answers parsed as they come."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray()
    next_id = 1
    count = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batch = []
        for _ in range(depth):
            message = dict(PAYLOAD, protocol_version="1", request_id=next_id)
            next_id += 1
            data = json.dumps(message, separators=(",", ":")).encode()
            batch.append(HEADER.pack(len(data)) + data)
        sock.sendall(b"".join(batch))
        answered = 0
        while answered < depth:
            while len(buffer) >= 4 and len(buffer) >= 4 + HEADER.unpack_from(buffer)[0]:
                (length,) = HEADER.unpack_from(buffer)
                json.loads(bytes(buffer[4 : 4 + length]))
                del buffer[: 4 + length]
                answered += 1
            if answered < depth:
                buffer += sock.recv(65_536)
        count += depth
    sock.close()
    return count


def our_client(port: int, seconds: float, depth: int) -> int:
    count = 0
    with sb.connect(port=port, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if depth == 1:
                client.request(PAYLOAD)
            else:
                calls = [client.submit(PAYLOAD) for _ in range(depth)]
                for call in calls:
                    call.result()
            count += depth
    return count


ROWS = [
    ("hand-written floor (one connection, batched sendall, buffered reads)", floor_client),
    ("socketbridge_client connect()", our_client),
    ("original client (a connection per message)", original_client),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--port", type=int)
    options = parser.parse_args()
    server = None
    port = options.port
    if port is None:
        from _servers import tour_server

        server = tour_server(token="")
        port = server.port
    try:
        results = {}
        for round_index in range(options.rounds):
            for depth in (1, 64):
                rows = ROWS[round_index % len(ROWS):] + ROWS[: round_index % len(ROWS)]
                figures = {}
                for name, run in rows:
                    if run is original_client and depth != 1:
                        figures[name] = None
                        continue
                    figures[name] = run(port, options.seconds, depth) / options.seconds
                floor = figures[ROWS[0][0]]
                for name, rate in figures.items():
                    if rate is not None:
                        results.setdefault((name, depth), []).append((rate, rate / floor))
        print("| client | scenario | req/s (median) | × floor (median of same-round ratios) |")
        print("| --- | --- | ---: | ---: |")
        for (name, depth), samples in results.items():
            scenario = "sequential" if depth == 1 else "pipelined (64 in flight)"
            rate = statistics.median(s[0] for s in samples)
            ratio = statistics.median(s[1] for s in samples)
            print(f"| {name} | {scenario} | {rate:,.0f} | {ratio:.2f}× |")
        ours = {d: statistics.median(s[0] for s in results[(ROWS[1][0], d)]) for d in (1, 64)}
        original = statistics.median(s[0] for s in results[(ROWS[2][0], 1)])
        print(f"\npipelined socketbridge_client vs the original client: {ours[64] / original:.1f}×")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
