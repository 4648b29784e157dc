import { assertEquals, assertThrows } from "../_assert.ts";
import {
  MAX_HEAD_BYTES,
  RequestFramer,
  RequestFramingError,
} from "../../src/http/request_framing.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("RequestFramer holds a head until it is whole, then passes it on at once", () => {
  const framer = new RequestFramer();
  assertEquals(framer.push(bytes("GET /metrics HTTP/1.1\r\nHost: x\r")), []);
  assertEquals(framer.inHead, true);
  const parts = framer.push(bytes("\n\r\n"));
  assertEquals(parts.map((p) => [text(p.bytes), p.headDone, p.requestDone]), [
    ["GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", true, true],
  ]);
  assertEquals([framer.inHead, framer.inBody], [false, false]);
});

Deno.test("RequestFramer follows a body by Content-Length and pipelined requests after it", () => {
  const framer = new RequestFramer();
  const parts = framer.push(
    bytes("POST /-/reload HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
  );
  assertEquals(parts.map((p) => [text(p.bytes), p.headDone, p.requestDone]), [
    ["POST /-/reload HTTP/1.1\r\nContent-Length: 5\r\n\r\n", true, false],
    ["ab", false, false],
  ]);
  assertEquals(framer.inBody, true);
  const rest = framer.push(bytes("cdeGET / HTTP/1.1\r\n\r\nGET /x"));
  assertEquals(rest.map((p) => [text(p.bytes), p.requestDone]), [
    ["cde", true],
    ["GET / HTTP/1.1\r\n\r\n", true],
  ]);
  assertEquals(framer.inHead, true, "the third request's head has begun");
});

Deno.test("RequestFramer refuses chunked and oversized requests with the status to answer", () => {
  const status = (input: string) => {
    const err = assertThrows(() => new RequestFramer().push(bytes(input)), RequestFramingError);
    return (err as RequestFramingError).status;
  };
  assertEquals(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
  assertEquals(status("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"), 413);
  assertEquals(status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  assertEquals(status("GET / HTTP/1.1\r\nX: " + "a".repeat(MAX_HEAD_BYTES)), 431);
});
