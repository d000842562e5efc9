"""Who reads the connection: a caller waiting for its answer reads it
itself when nobody else does; the reader thread reads whatever nobody waits
for (a call not waited on yet, a stream's chunks, events). These tests hold
each path to its promise: every answer reaches its own caller under
contention, nothing waited on by nobody is left unread, a half-read frame
survives a caller that gave up, a quiet connection the server closed is
dialled again before the next request, and reader threads end with their
connections."""

import json
import os
import threading
import time
import unittest

from _servers import RawServer, TourServerCase, frame, ok, read_frame, tour_server

import socketbridge_client as sb




def readers() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "socketbridge-reader")


class TurnsTest(TourServerCase):
    def test_threads_making_requests_one_after_another_each_get_their_own_answers(self):
        client = self.connect()
        results = {}

        def worker(index):
            results[index] = [client.request({"type": "echo", "n": index * 1000 + i})["n"] for i in range(300)]

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for index in range(8):
            self.assertEqual(results[index], [index * 1000 + i for i in range(300)])
        self.assertEqual(client.pending, 0)

    def test_a_call_nobody_waits_for_is_read_and_settled_all_the_same(self):
        client = self.connect()
        calls = [client.submit({"type": "echo", "n": n}) for n in range(20)]
        deadline = time.monotonic() + 5
        while not all(call.done() for call in calls) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(all(call.done() for call in calls), "calls left unread")
        self.assertEqual([call.result()["n"] for call in calls], list(range(20)))
        self.assertEqual(client.pending, 0)

    def test_reader_threads_end_with_their_connections(self):
        # Those of clients closed by earlier tests end first.
        settle = time.monotonic() + 5
        while readers() > 0 and time.monotonic() < settle:
            time.sleep(0.01)
        before = readers()
        clients = [self.connect() for _ in range(5)]
        for client in clients:
            client.request({"type": "echo"})
        self.assertEqual(readers(), before + 5)
        for client in clients:
            client.close()
        deadline = time.monotonic() + 5
        while readers() > before and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(readers(), before)


class QuietConnectionTest(unittest.TestCase):
    def test_a_quiet_connection_the_server_closed_is_dialled_again_before_the_next_request(self):
        first = tour_server()
        port = first.port
        client = sb.connect(port=port, token="tok", timeout=10, reconnect=True)
        self.addCleanup(client.close)
        self.assertEqual(client.request({"type": "echo", "n": 1})["n"], 1)
        first.kill()
        second = tour_server(port=port)
        self.addCleanup(second.stop)
        # No subscription, nothing in flight: nobody reads this connection
        # until the request, which must not be sent on the dead one.
        self.assertEqual(client.request({"type": "echo", "n": 2})["n"], 2)


class TlsTest(unittest.TestCase):
    def test_over_tls_callers_and_the_reader_thread_take_turns_too(self):
        fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
        cert = os.path.join(fixtures, "localhost.crt")
        server = tour_server("--cert", cert, "--key", os.path.join(fixtures, "localhost.key"))
        self.addCleanup(server.stop)
        with sb.connect(host="localhost", port=server.port, token="tok", cafile=cert, timeout=10) as client:
            self.assertEqual([client.request({"type": "echo", "n": n})["n"] for n in range(50)], list(range(50)))
            calls = [client.submit({"type": "echo", "n": n}) for n in range(50)]
            self.assertEqual([call.result()["n"] for call in calls], list(range(50)))
            self.assertEqual(list(client.stream({"type": "count", "n": 3})), [1, 2, 3])
            with self.assertRaises(sb.TimeoutError):
                client.request({"type": "sleep", "ms": 2_000}, timeout=0.2)
            self.assertEqual(client.request({"type": "echo", "after": True})["after"], True)


class HalfFrameTest(unittest.TestCase):
    def test_a_frame_half_read_by_a_caller_that_gave_up_is_finished_by_the_next(self):
        def behave(conn):
            hello = json.loads(read_frame(conn))
            conn.sendall(frame(ok(hello["request_id"], {"features": []})))
            slow = json.loads(read_frame(conn))
            late = frame(ok(slow["request_id"], "late"))
            conn.sendall(late[:9])
            fast = json.loads(read_frame(conn))
            conn.sendall(late[9:] + frame(ok(fast["request_id"], "fast")))
            read_frame(conn)

        server = RawServer(behave)
        self.addCleanup(server.close)
        with sb.connect(port=server.port, timeout=5) as client:
            with self.assertRaises(sb.TimeoutError):
                client.request({"type": "slow"}, timeout=0.3)
            self.assertEqual(client.request({"type": "fast"}), "fast")
            self.assertEqual(client.pending, 0)


if __name__ == "__main__":
    unittest.main()
