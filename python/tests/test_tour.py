"""The client against the real Deno tour server (examples/server.ts)."""

import asyncio
import os
import threading
import time
import unittest

from _servers import RUNTIME, TourServerCase, tour_server

import socketbridge_client as sb


class BlockingClientTest(TourServerCase):
    tour_options = {"name": "py-tour"}

    def test_send_is_the_original_request_and_returns_the_answer(self):
        answer = sb.send({"type": "ping"}, port=self.server.port, token="tok")
        self.assertEqual(
            answer,
            {"status": "ok", "message": "received", "protocol_version": "1", "result": {"type": "ping"}},
        )
        refused = sb.send({}, port=self.server.port, token="guess")
        self.assertEqual((refused["status"], refused["code"]), ("error", "unauthorized"))

    def test_many_requests_in_flight_from_many_threads_each_get_their_own_result(self):
        client = self.connect()
        results = {}

        def worker(index):
            calls = [client.submit({"type": "echo", "n": index * 100 + i}) for i in range(50)]
            results[index] = [call.result()["n"] for call in calls]

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index in range(8):
            self.assertEqual(results[index], [index * 100 + i for i in range(50)])
        self.assertEqual(client.pending, 0)

    def test_a_stream_yields_its_chunks_then_its_result_and_leaving_early_cancels_it(self):
        client = self.connect()
        stream = client.stream({"type": "count", "n": 5})
        self.assertEqual(list(stream), [1, 2, 3, 4, 5])
        self.assertEqual(stream.result, "done")
        for index, _ in enumerate(client.stream({"type": "count", "n": 10_000})):
            if index == 3:
                break
        # The early exit cancelled it: nothing is left waiting, the connection goes on.
        self.assertEqual(client.pending, 0)
        self.assertEqual(client.request({"type": "echo", "after": True})["after"], True)

    def test_errors_carry_the_servers_code_and_data(self):
        client = self.connect()
        with self.assertRaises(sb.RemoteError) as caught:
            client.request({"type": "count", "n": -1})
        self.assertEqual(caught.exception.code, "invalid_payload")
        self.assertEqual(caught.exception.data["issues"][0]["path"], [])
        self.assertFalse(caught.exception.is_application_error)
        with self.assertRaises(sb.RemoteError) as refused:
            with sb.connect(port=self.server.port, token="guess") as wrong:
                wrong.request({})
        self.assertEqual(refused.exception.code, "unauthorized")

    def test_a_timeout_raises_on_time_and_travels_as_timeout_ms_and_cancel_stops_the_handler(self):
        client = self.connect()
        started = time.monotonic()
        with self.assertRaises(sb.TimeoutError):
            client.request({"type": "sleep", "ms": 5_000}, timeout=0.2)
        # Raised once its timeout passed, not when the handler (5 s) would have answered.
        self.assertLess(time.monotonic() - started, 4.0)
        call = client.submit({"type": "sleep", "ms": 5_000})
        self.assertTrue(call.cancel())
        with self.assertRaises(sb.CancelledError):
            call.result()
        self.assertFalse(call.cancel())
        self.assertEqual(client.request({"type": "echo"}), {"type": "echo"})

    def test_subscribe_receives_events_of_its_patterns_only(self):
        client = self.connect()
        with client.subscribe(["jobs.*.done"]) as events:
            client.request({"type": "publish", "topic": "jobs.x.started", "data": 0})
            client.request({"type": "publish", "topic": "jobs.build.done", "data": {"ok": True}})
            self.assertEqual(
                events.get(timeout=5), {"kind": "event", "topic": "jobs.build.done", "data": {"ok": True}}
            )
            self.assertIsNone(events.get(timeout=0.2))

    def test_describe_lists_the_declared_types(self):
        client = self.connect()
        self.assertEqual([t["type"] for t in client.describe()], ["echo", "count", "sleep", "tick", "ask", "publish"])

    def test_by_name_needs_neither_port_nor_token(self):
        self.assertTrue(os.path.exists(os.path.join(RUNTIME, "socketbridge", "py-tour.json")))
        with sb.connect(name="py-tour") as client:
            self.assertEqual(client.request({"type": "echo", "by": "name"})["by"], "name")
        self.assertEqual(sb.send({"type": "x"}, name="py-tour")["status"], "ok")
        with self.assertRaises(sb.ConnectError):
            sb.connect(name="nobody-serves-this")

    def test_a_stale_or_open_discovery_file_is_refused(self):
        directory = os.path.join(RUNTIME, "socketbridge")
        with open(os.path.join(directory, "py-tour.json"), encoding="utf-8") as file:
            record = file.read()
        stale = os.path.join(directory, "stale.json")
        with open(stale, "w", encoding="utf-8") as file:
            file.write(record.replace('"py-tour"', '"stale"'))
        os.chmod(stale, 0o600)
        with self.assertRaisesRegex(sb.ConnectError, "stale"):
            sb.connect(name="stale")
        os.chmod(stale, 0o644)
        with self.assertRaisesRegex(PermissionError, "mode 644"):
            sb.connect(name="stale")
        os.remove(stale)


class UnixAndReconnectTest(unittest.TestCase):
    def test_a_unix_socket_server_is_reached_by_path(self):
        path = os.path.join(RUNTIME, "tour.sock")
        server = tour_server("--path", path)
        self.addCleanup(server.stop)
        with sb.connect(path=path, token="tok") as client:
            self.assertEqual(client.request({"type": "echo", "over": "unix"})["over"], "unix")

    def test_reconnect_fails_what_was_in_flight_and_serves_what_comes_after(self):
        first = tour_server()
        port = first.port
        client = sb.connect(port=port, token="tok", timeout=10, reconnect=True)
        self.addCleanup(client.close)
        events = client.subscribe(["jobs.>"])
        self.addCleanup(events.close)
        in_flight = client.submit({"type": "sleep", "ms": 5_000})
        time.sleep(0.2)
        first.kill()
        with self.assertRaises(sb.ConnectionClosedError):
            in_flight.result()
        second = tour_server(port=port)
        self.addCleanup(second.stop)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.assertEqual(client.request({"type": "echo", "back": 1})["back"], 1)
                break
            except sb.SocketBridgeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        # The subscription is renewed on the new connection: told of the gap,
        # then given the events published after it.
        self.assertEqual(events.get(timeout=5), {"kind": "gap"})
        client.request({"type": "publish", "topic": "jobs.1", "data": "after"})
        self.assertEqual(events.get(timeout=5), {"kind": "event", "topic": "jobs.1", "data": "after"})


class AsyncClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = tour_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_the_same_methods_as_coroutines_and_async_iterators(self):
        async def main():
            async with await sb.connect_async(port=self.server.port, token="tok", timeout=10) as client:
                results = await asyncio.gather(*(client.request({"type": "echo", "n": n}) for n in range(100)))
                self.assertEqual([r["n"] for r in results], list(range(100)))
                stream = await client.stream({"type": "count", "n": 3})
                self.assertEqual([chunk async for chunk in stream], [1, 2, 3])
                self.assertEqual(await stream.result(), "done")
                events = await client.subscribe(["news.>"])
                await client.request({"type": "publish", "topic": "news.today", "data": "hi"})
                async for event in events:
                    self.assertEqual(event, {"kind": "event", "topic": "news.today", "data": "hi"})
                    break
                with self.assertRaises(sb.TimeoutError):
                    await client.request({"type": "sleep", "ms": 5_000}, timeout=0.2)
                with self.assertRaises(sb.RemoteError) as caught:
                    await client.request({"type": "count", "n": "x"})
                self.assertEqual(caught.exception.code, "invalid_payload")
                self.assertEqual(len(await client.describe()), 6)
                self.assertEqual(client.pending, 0)

        asyncio.run(main())


if __name__ == "__main__":
    unittest.main()
