"""The client against the fixture of the original Python server, which
knows only the original protocol: one request at a time, no ids on ok
answers, ``request_id: null`` on some errors, no result, no two-way bridge."""

import unittest

from _servers import original_server

import socketbridge_client as sb


class OriginalServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = original_server("orig")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_send_works_unchanged(self):
        answer = sb.send({"type": "ping"}, port=self.server.port, token="orig")
        self.assertEqual(answer, {"status": "ok", "message": "received", "protocol_version": "1"})
        refused = sb.send({}, port=self.server.port, token="wrong")
        self.assertEqual(refused, {
            "status": "error", "message": "unauthorized", "protocol_version": "1", "request_id": None,
        })

    def test_requests_are_matched_in_order_and_null_ids_understood(self):
        with sb.connect(port=self.server.port, token="orig", timeout=10) as client:
            self.assertEqual(client.features, frozenset())
            calls = [client.submit({"n": n}) for n in range(5)]
            self.assertEqual([call.result() for call in calls], [None] * 5)
        with sb.connect(port=self.server.port, token="wrong", timeout=10) as wrong:
            with self.assertRaises(sb.RemoteError) as caught:
                wrong.request({})
            self.assertEqual(caught.exception.code, "unauthorized")

    def test_stream_yields_the_collected_result_and_the_bridge_says_why_it_is_missing(self):
        with sb.connect(port=self.server.port, token="orig", timeout=10) as client:
            stream = client.stream({"type": "count", "n": 3})
            self.assertEqual(list(stream), [])
            self.assertIsNone(stream.result)
            with self.assertRaisesRegex(sb.ProtocolError, "does not offer events"):
                client.subscribe(["jobs.>"])
            with self.assertRaisesRegex(sb.ProtocolError, "does not speak the two-way protocol"):
                client.describe()


if __name__ == "__main__":
    unittest.main()
