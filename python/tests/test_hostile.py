"""The client against servers that misbehave: garbage, HTTP, a huge prefix,
a server that never answers, one that closes mid-frame, answers to ids
never sent or answered twice. Each is a clear error, and nothing waits
forever."""

import json
import socket
import time
import tracemalloc
import unittest

from _servers import RawServer, frame, read_frame

import socketbridge_client as sb



def answer_hello_then(behave):
    """A server that answers $hello like ours, then runs ``behave(conn, request)``."""

    def run(conn):
        while True:
            request = json.loads(read_frame(conn))
            if request.get("type") == "$hello":
                conn.sendall(frame({"status": "ok", "message": "received", "protocol_version": "1",
                                    "request_id": request["request_id"], "result": {"features": []}}))
                continue
            behave(conn, request)

    return run


class HostileServerTest(unittest.TestCase):
    def serve(self, behave):
        server = RawServer(behave)
        self.addCleanup(server.close)
        return server

    def test_a_frame_that_is_not_json_is_a_protocol_error(self):
        server = self.serve(lambda conn: (read_frame(conn), conn.sendall(b"\x00\x00\x00\x03{{{")))
        with self.assertRaisesRegex(sb.ProtocolError, "not JSON"):
            sb.send({}, port=server.port)

    def test_an_http_server_is_named_as_such(self):
        def http(conn):
            read_frame(conn)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        server = self.serve(http)
        with self.assertRaisesRegex(sb.ProtocolError, "not a SocketBridge server: it answered with HTTP"):
            sb.send({}, port=server.port)

    def test_a_huge_prefix_is_refused_without_allocating(self):
        def huge(conn):
            read_frame(conn)
            conn.sendall(b"\xff\xff\xff\xf0" + b"\x00" * 16)
            time.sleep(1)

        server = self.serve(huge)
        tracemalloc.start()
        try:
            with self.assertRaises(sb.FrameTooLargeError) as caught:
                sb.send({}, port=server.port, max_bytes=1024)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertEqual((caught.exception.size, caught.exception.limit), (0xFFFFFFF0, 1024))
        self.assertLess(peak, 1_000_000)
        client = sb.connect(port=server.port, max_bytes=1024, two_way=False, timeout=5)
        self.addCleanup(client.close)
        with self.assertRaises(sb.FrameTooLargeError):
            client.request({})

    def test_a_server_that_never_answers_times_out_once_the_timeout_has_passed(self):
        server = self.serve(answer_hello_then(lambda conn, request: None))
        with sb.connect(port=server.port, timeout=0.3) as client:
            started = time.monotonic()
            with self.assertRaises(sb.TimeoutError):
                client.request({})
            self.assertLess(time.monotonic() - started, 3)
            self.assertEqual(client.pending, 0)
        with self.assertRaises(sb.TimeoutError):
            sb.send({}, port=server.port, timeout=0.3)

    def test_a_server_that_closes_mid_frame_fails_every_waiting_request(self):
        def cut(conn, request):
            conn.sendall(b"\x00\x00\x01\x00{\"status\"")
            conn.shutdown(socket.SHUT_RDWR)

        server = self.serve(answer_hello_then(cut))
        with sb.connect(port=server.port, timeout=5) as client:
            calls = [client.submit({"n": n}) for n in range(3)]
            for call in calls:
                with self.assertRaises(sb.ConnectionClosedError):
                    call.result()

    def test_an_answer_to_an_id_never_sent_or_a_second_answer_closes_with_a_protocol_error(self):
        for answers in ([{"request_id": 999}], [{"request_id": "same"}, {"request_id": "same"}]):
            def lie(conn, request, answers=answers):
                for extra in answers:
                    request_id = request["request_id"] if extra["request_id"] == "same" else 999
                    conn.sendall(frame({"status": "ok", "message": "received", "protocol_version": "1",
                                        "request_id": request_id}))

            server = self.serve(answer_hello_then(lie))
            with sb.connect(port=server.port, timeout=5) as client:
                first = client.submit({"n": 1})
                waiting = client.submit({"n": 2})
                outcomes = []
                for call in (first, waiting):
                    try:
                        call.result()
                        outcomes.append("ok")
                    except sb.ProtocolError as error:
                        outcomes.append(str(error))
                self.assertTrue(any("no request is waiting" in o for o in outcomes), outcomes)
                with self.assertRaises(sb.SocketBridgeError):
                    client.request({"n": 3})

    def test_a_frame_that_is_not_an_answer_is_a_protocol_error(self):
        server = self.serve(answer_hello_then(lambda conn, request: conn.sendall(frame([1, 2]))))
        with sb.connect(port=server.port, timeout=5) as client:
            with self.assertRaisesRegex(sb.ProtocolError, "not an answer"):
                client.request({})


if __name__ == "__main__":
    unittest.main()
