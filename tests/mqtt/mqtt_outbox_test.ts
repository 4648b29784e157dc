import { assert, assertEquals } from "../_assert.ts";
import { MqttOutbox, type OutboxMessage } from "../../src/mqtt/mqtt_outbox.ts";
import type { MqttOutcome, MqttTopicKind } from "../../src/metrics/definitions.ts";

/** An outbox over a fake client whose `done`s the test calls. */
function outbox(maxBytes: number, maxInflight = 4) {
  const counts = new Map<string, number>();
  const handed: { message: OutboxMessage; done: (err?: Error) => void }[] = [];
  const losses: string[] = [];
  const box = new MqttOutbox({
    maxBytes,
    maxInflight,
    send: (message, done) => handed.push({ message, done }),
    count: (kind: MqttTopicKind, outcome: MqttOutcome, n) =>
      counts.set(`${kind}:${outcome}`, (counts.get(`${kind}:${outcome}`) ?? 0) + n),
    onLoss: (_kind, outcome, reason) => losses.push(`${outcome}: ${reason}`),
  });
  const count = (key: string) => counts.get(key) ?? 0;
  return { box, handed, count, losses };
}

/** A poses message of `size` bytes as the outbox counts them (topic + payload + 8). */
function msg(n: number, size = 100): OutboxMessage {
  const topic = `p/s/poses`;
  return {
    kind: "poses",
    topic,
    payload: String(n).padEnd(size - topic.length - 8, " "),
    retain: false,
  };
}

Deno.test("MqttOutbox holds messages while closed and hands them on in order when opened", () => {
  const { box, handed, count } = outbox(10_000);
  for (let i = 0; i < 6; i++) box.push(msg(i));
  assertEquals(handed.length, 0);
  box.setOpen(true);
  assertEquals(handed.length, 4, "at most maxInflight at a time");
  for (let i = 0; i < 6; i++) handed[i]!.done();
  assertEquals(handed.map((h) => h.message.payload.trim()), ["0", "1", "2", "3", "4", "5"]);
  assertEquals(count("poses:sent"), 6);
  assertEquals(box.bytes, 0);
});

Deno.test("MqttOutbox drops the oldest beyond its byte bound and counts every message", () => {
  const { box, handed, count, losses } = outbox(1000);
  const produced = 25;
  for (let i = 0; i < produced; i++) box.push(msg(i));
  assertEquals(box.queued, 10, "1000 bytes hold ten 100-byte messages");
  assertEquals(count("poses:dropped"), 15);
  assert(losses[0]!.startsWith("dropped"), losses[0]);
  box.setOpen(true);
  const order: string[] = [];
  for (let i = 0; i < handed.length; i++) {
    const h = handed[i]!;
    order.push(h.message.payload.trim());
    if (i === 0) h.done(new Error("Connection closed"));
    else h.done();
  }
  assertEquals(
    order,
    ["15", "16", "17", "18", "19", "20", "21", "22", "23", "24"],
    "the newest kept",
  );
  assertEquals(count("poses:failed"), 1);
  assertEquals(count("poses:sent") + count("poses:dropped") + count("poses:failed"), produced);
});

Deno.test("MqttOutbox drops the new message when what is in flight fills the bound", () => {
  const { box, handed, count } = outbox(300, 10);
  box.setOpen(true);
  for (let i = 0; i < 3; i++) box.push(msg(i));
  assertEquals(handed.length, 3);
  box.push(msg(3));
  assertEquals(count("poses:dropped"), 1);
  assertEquals(box.queued, 0);
});

Deno.test("MqttOutbox puts a `first` message at the head", () => {
  const { box, handed } = outbox(10_000, 1);
  box.push(msg(1));
  box.push({ kind: "available", topic: "p/available", payload: "online", retain: true }, {
    first: true,
  });
  box.setOpen(true);
  assertEquals(handed[0]!.message.kind, "available");
});

Deno.test("MqttOutbox.dropQueued() and abandonInflight() account for what is left at a stop", async () => {
  const { box, handed, count } = outbox(10_000, 2);
  for (let i = 0; i < 5; i++) box.push(msg(i));
  box.setOpen(true);
  const idle = box.idle();
  assertEquals(box.dropQueued("stop"), 3);
  assertEquals(box.abandonInflight("stop"), 2);
  await idle;
  handed[0]!.done();
  assertEquals(count("poses:sent"), 0, "a done after abandonInflight is ignored");
  assertEquals(count("poses:dropped"), 3);
  assertEquals(count("poses:failed"), 2);
});
