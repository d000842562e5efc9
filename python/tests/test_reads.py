"""What the reader does with many frames in one read, and the frame codec's
edges: chunks and answers of one read reach their requests in order, a bad
frame among them fails only what comes after it, JSON with whitespace
around it is read, trailing bytes are not, and a payload that refers to
itself is refused at submit."""

import json
import os
import re
import unittest

from _servers import RawServer, frame, ok, read_frame

import socketbridge_client as sb
from socketbridge_client._frames import ENVELOPE_KEYS, PROTOCOL_CODES, encode_request, parse_frame

PROTOCOL_TS = os.path.join(os.path.dirname(__file__), "..", "..", "protocol.ts")
# Codes the Deno client makes itself, never sent by a server.
CLIENT_SIDE_CODES = {"connection_closed", "connect_failed", "protocol_error", "incomplete_frame"}




class OneReadTest(unittest.TestCase):
    def test_chunks_answers_and_a_bad_frame_in_one_read(self):
        def behave(conn):
            hello = json.loads(read_frame(conn))
            conn.sendall(frame(ok(hello["request_id"], {"features": ["chunks"]})))
            streamed = json.loads(read_frame(conn))
            plain = json.loads(read_frame(conn))
            # One write: two chunks and the stream's answer, the plain request's
            # answer, then an answer to an id never sent.
            conn.sendall(
                frame({"request_id": streamed["request_id"], "chunk": "a"})
                + frame({"request_id": streamed["request_id"], "chunk": "b"})
                + frame(ok(streamed["request_id"], "streamed"))
                + frame(ok(plain["request_id"], "plain"))
                + frame(ok(424242, "nobody's"))
            )
            read_frame(conn)  # Until the client closes.

        server = RawServer(behave)
        self.addCleanup(server.close)
        with sb.connect(port=server.port, timeout=5) as client:
            stream = client.stream({"type": "count"})
            plain = client.submit({"type": "echo"})
            self.assertEqual(list(stream), ["a", "b"])
            self.assertEqual(stream.result, "streamed")
            self.assertEqual(plain.result(), "plain")
            with self.assertRaises(sb.SocketBridgeError):
                client.request({"type": "after"})


    def test_an_answer_read_with_garbage_after_it_is_delivered_and_the_garbage_fails_the_rest(self):
        def behave(conn):
            hello = json.loads(read_frame(conn))
            conn.sendall(frame(ok(hello["request_id"], {"features": []})))
            first = json.loads(read_frame(conn))
            read_frame(conn)  # The second, left unanswered.
            conn.sendall(frame(ok(first["request_id"], "first")) + b"\x00\x00\x00\x03{{{")
            read_frame(conn)

        server = RawServer(behave)
        self.addCleanup(server.close)
        with sb.connect(port=server.port, timeout=5) as client:
            first = client.submit({"type": "one"})
            second = client.submit({"type": "two"})
            self.assertEqual(first.result(), "first")
            with self.assertRaisesRegex(sb.ProtocolError, "not JSON"):
                second.result()


class CodecTest(unittest.TestCase):
    def test_the_envelope_keys_and_protocol_codes_are_those_of_protocol_ts(self):
        with open(PROTOCOL_TS, encoding="utf-8") as source:
            text = source.read()

        def strings_of(declaration: str) -> list:
            block = re.search(re.escape(declaration) + r"[^=]*=[^\[]*\[([^\]]*)\]", text)
            self.assertIsNotNone(block, declaration)
            return re.findall(r'"([a-z_]+)"', block.group(1))

        self.assertEqual(list(ENVELOPE_KEYS), strings_of("export const ENVELOPE_KEYS"))
        self.assertEqual(PROTOCOL_CODES, set(strings_of("const PROTOCOL_CODES")) - CLIENT_SIDE_CODES)

    def test_json_with_whitespace_around_it_is_read_and_trailing_bytes_are_not(self):
        self.assertEqual(parse_frame(b' \n{"status": "ok", "result": [1, 2]}\t '), {"status": "ok", "result": [1, 2]})
        self.assertEqual(parse_frame('{"é":"\u2028"}'.encode()), {"é": "\u2028"})
        for bad in (b'{"a":1}x', b'{"a":1}{}', b"{", b"", b"\xff{}"):
            with self.assertRaises(sb.ProtocolError, msg=bad):
                parse_frame(bad)

    def test_a_request_is_compact_utf8_and_a_payload_that_refers_to_itself_is_refused(self):
        body = encode_request({"type": "echo", "text": "é", "n": [1, None]}, '"protocol_version":"1"', 7, 250)[4:]
        self.assertEqual(
            body.decode(),
            '{"type":"echo","text":"é","n":[1,null],"protocol_version":"1","request_id":7,"timeout_ms":250}',
        )
        looped: dict = {"type": "loop"}
        looped["self"] = looped
        with self.assertRaisesRegex(ValueError, "refers to itself"):
            encode_request(looped, '"protocol_version":"1"', 1)
        with self.assertRaises(TypeError):
            encode_request({"type": "x", "what": object()}, '"protocol_version":"1"', 1)


if __name__ == "__main__":
    unittest.main()
