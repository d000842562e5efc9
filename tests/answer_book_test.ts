import assert from "node:assert/strict";
import { AnswerBook, Pending } from "../_client/answer_book.ts";
import { ApplicationError, ProtocolError, RemoteError } from "../errors.ts";
import type { BridgeResponse, RequestId } from "../protocol.ts";

const ok = (id?: RequestId | null, result?: unknown): BridgeResponse => ({
  status: "ok",
  message: "received",
  protocol_version: "1",
  ...(id === undefined ? {} : { request_id: id }),
  ...(result === undefined ? {} : { result }),
} as BridgeResponse);

function sent(book: AnswerBook, id: RequestId | undefined): Pending {
  const entry = new Pending({ id, payload: {} });
  entry.outcome.catch(() => {});
  book.sent(entry);
  return entry;
}

function settle(book: AnswerBook, response: BridgeResponse): void {
  const match = book.match(response);
  assert.ok(match instanceof Pending);
  match.answer(response);
}

Deno.test("AnswerBook matches answers by id in any order, each request settled once", async () => {
  const book = new AnswerBook();
  const entries = [1, 2, 3].map((id) => sent(book, id));
  for (const id of [3, 1, 2]) settle(book, ok(id, id * 10));
  assert.deepEqual(await Promise.all(entries.map((entry) => entry.outcome)), [10, 20, 30]);
  assert.equal(book.size, 0);
  assert.throws(() => book.match(ok(2)), ProtocolError);
});

Deno.test("AnswerBook matches an original server's id-less answers (and null ids) in send order", async () => {
  const book = new AnswerBook();
  const first = sent(book, 1);
  const second = sent(book, 2);
  settle(book, ok(undefined, "a"));
  const refusal = {
    status: "error",
    message: "unauthorized",
    protocol_version: "1",
    request_id: null,
  } as unknown as BridgeResponse;
  const match = book.match(refusal);
  assert.equal(match, second);
  second.answer(refusal);
  assert.equal(await first.outcome, "a");
  const error = await second.outcome.catch((e) => e);
  assert.ok(error instanceof RemoteError && error.code === "unauthorized");
});

Deno.test("AnswerBook drops a late answer to a request given up, but refuses one never sent", () => {
  const book = new AnswerBook();
  const entry = sent(book, "job-1");
  book.givenUp(entry);
  entry.fail(new Error("timed out"));
  assert.equal(book.match(ok("job-1")), undefined);
  assert.throws(() => book.match(ok("job-1")), /no request is waiting/);
  assert.throws(() => book.match(ok("never")), /no request is waiting/);
});

Deno.test("AnswerBook refuses frames that are not answers, and odd ids, as ProtocolErrors", () => {
  const book = new AnswerBook();
  sent(book, 1);
  for (const frame of [{ hello: 1 }, [], "text", { status: "maybe" }, ok({ id: 1 } as never)]) {
    assert.throws(() => book.match(frame), ProtocolError, JSON.stringify(frame));
  }
  assert.throws(() => new AnswerBook().match(ok()), /no request was waiting/);
});

Deno.test("Pending turns error answers into RemoteError or ApplicationError, and settles only once", async () => {
  const remote = new Pending({ id: 1, payload: {} });
  remote.answer({ status: "error", message: "busy", code: "busy", protocol_version: "1" });
  remote.answer(ok(1, "late"));
  const busy = await remote.outcome.catch((e) => e);
  assert.ok(busy instanceof RemoteError && busy.code === "busy");
  const application = new Pending({ id: 2, payload: {} });
  application.answer({
    status: "error",
    message: "no such file",
    code: "not_found",
    data: { path: "/x" },
    protocol_version: "1",
  });
  const missing = await application.outcome.catch((e) => e);
  assert.ok(missing instanceof ApplicationError);
  assert.deepEqual([missing.code, missing.data], ["not_found", { path: "/x" }]);
  const whole = new Pending({ id: 3, payload: {}, unwrap: false });
  const refusal: BridgeResponse = {
    status: "error",
    message: "unauthorized",
    protocol_version: "1",
  };
  whole.answer(refusal);
  assert.deepEqual(await whole.outcome, refusal);
});

Deno.test("Pending collects chunks of a plain request into its result, as a collecting server does", async () => {
  const entry = new Pending({ id: 1, payload: {} });
  entry.chunk(1);
  entry.chunk(2);
  entry.answer(ok(1, "final"));
  entry.chunk(3);
  assert.deepEqual(await entry.outcome, [1, 2]);
});
