import { assert, assertEquals } from "../_assert.ts";
import { JsonlSink } from "../../src/pipeline/jsonl_sink.ts";
import type { FrameResult } from "../../src/pipeline/result.ts";
import { Logger } from "../../src/log.ts";

function result(seq: number): FrameResult {
  return {
    frame: {
      stream: 0,
      seq,
      capturedAt: 1,
      pixels: new Uint8Array(0),
      letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 1, sourceHeight: 1 },
    },
    streamId: "s0",
    persons: [],
    decodedAt: 2,
    latencyMs: 1,
  };
}

Deno.test("JsonlSink - appends to an existing file and reopens the path after a rename", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/out.jsonl`;
  await Deno.writeTextFile(path, '{"earlier":true}\n');
  const sink = await JsonlSink.open(path, { flushBytes: 1 });
  sink.write(result(0));
  await new Promise((r) => setTimeout(r, 50));
  await Deno.rename(path, `${path}.1`);
  await sink.reopen();
  sink.write(result(1));
  await sink.close();
  const old = (await Deno.readTextFile(`${path}.1`)).trim().split("\n");
  const now = (await Deno.readTextFile(path)).trim().split("\n");
  assertEquals(old.length, 2, "appended, not truncated");
  assertEquals(JSON.parse(now[0]!).frame, 1);
  assertEquals([sink.written, sink.lost], [2, 0]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("JsonlSink - write errors are counted, logged once per interval, never thrown", async () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", writer: { writeLine: (l) => lines.push(l) } });
  let lostReported = 0;
  // A disk that is full: every write fails as the kernel says it.
  const full = {
    write: () => Promise.reject(new Error("No space left on device (os error 28)")),
  };
  const sink = JsonlSink.over("/data/out.jsonl", full, {
    flushBytes: 1,
    log,
    onLost: (n) => (lostReported += n),
  });
  for (let i = 0; i < 5; i++) sink.write(result(i));
  await sink.close();
  assertEquals(sink.lost, 5);
  assertEquals(lostReported, 5);
  assertEquals(sink.written, 0);
  const errors = lines.map((l) => JSON.parse(l));
  assertEquals(errors.length, 1, "one log line, not one per write");
  assertEquals(errors[0].file, "/data/out.jsonl");
  assert(/No space left/.test(errors[0].error), errors[0].error);
});

Deno.test("JsonlSink - a close whose deadline comes first abandons and counts what is unwritten", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/results.fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  // A reader that never reads: once the pipe's buffer is full, writes wait, as with `| sleep 100`.
  const [reader, sink] = await Promise.all([
    Deno.open(fifo, { read: true }),
    JsonlSink.open(fifo, { flushBytes: 4096 }),
  ]);
  const total = 3000;
  for (let i = 0; i < total; i++) sink.write(result(i));
  await sink.close(new Promise((r) => setTimeout(r, 200)));
  assert(sink.abandoned > 0, "lines were still waiting at the deadline");
  assertEquals(sink.lost, sink.abandoned);
  assertEquals(sink.written + sink.lost, total, "every line is written or counted as lost");
  reader.close();
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(sink.written + sink.lost, total, "a late failure counts nothing twice");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("JsonlSink - a writer that does not keep up holds a bounded backlog; the rest is counted", () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", writer: { writeLine: (l) => lines.push(l) } });
  // A pipe nobody reads: the write never finishes.
  const stalled = { write: () => new Promise<number>(() => {}) };
  const sink = JsonlSink.over("-", stalled, { flushBytes: 1024, maxPendingBytes: 8192, log });
  const total = 500;
  for (let i = 0; i < total; i++) sink.write(result(i));
  assert(sink.lost > 0, "lines beyond the bound were dropped");
  assert(sink.pending * 150 <= 8192 + 2048, `the backlog stays bounded: ${sink.pending} lines`);
  assertEquals(sink.pending + sink.lost, total, "every line is pending or counted as lost");
  assertEquals(JSON.parse(lines[0]!).msg, "cannot write results: lines lost");
  assert(/behind/.test(JSON.parse(lines[0]!).error));
});
