import assert from "node:assert/strict";
import { foreignProtocol } from "../_wire/sniff.ts";

const prefixOf = (bytes: number[]) => new DataView(new Uint8Array(bytes).buffer).getUint32(0);
const text = (start: string) => prefixOf([...start].map((c) => c.charCodeAt(0)));

Deno.test("foreignProtocol() names HTTP requests and responses and TLS records from four bytes", () => {
  for (
    const start of ["GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "CONN", "PRI ", "HTTP"]
  ) {
    assert.equal(foreignProtocol(text(start)), "HTTP", start);
  }
  for (const type of [0x14, 0x15, 0x16, 0x17]) {
    assert.equal(foreignProtocol(prefixOf([type, 0x03, 0x01, 0x00])), "TLS");
  }
});

Deno.test("foreignProtocol() leaves every plausible SocketBridge length alone", () => {
  for (const length of [0, 1, 2, 100, 65_536, 1_048_576, 16_777_216, 0x13ffffff]) {
    assert.equal(foreignProtocol(length), undefined, String(length));
  }
  assert.equal(foreignProtocol(prefixOf([0x16, 0x02, 0x00, 0x00])), undefined);
  assert.equal(foreignProtocol(text("get ")), undefined);
});
