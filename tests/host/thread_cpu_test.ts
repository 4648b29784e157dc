import { assert, assertEquals } from "../_assert.ts";
import {
  classifyThread,
  parseSchedstat,
  parseStat,
  secondsByClass,
  threadTimes,
} from "../../src/host/thread_cpu.ts";
import { readProcFile } from "../../src/host/libc.ts";

Deno.test("parseStat() reads utime + stime after a name with spaces and parentheses", () => {
  const line = "1234 (V8 Default (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0";
  assertEquals(parseStat(line), { name: "V8 Default (x)", ticks: 287 });
  assertEquals(parseStat("garbage"), null);
});

Deno.test("parseSchedstat() reads the run time in nanoseconds as seconds", () => {
  assertEquals(parseSchedstat("43194033 3851568 80\n"), 0.043194033);
  assertEquals(parseSchedstat(""), null);
  assertEquals(parseSchedstat("x 1 2"), null);
});

Deno.test("threadTimes() is finer than a clock tick where the kernel has schedstat", () => {
  // Without schedstat (a kernel without CONFIG_SCHED_INFO), stat's 10 ms ticks are all there is.
  const schedstat = readProcFile(`/proc/${Deno.pid}/task/${Deno.pid}/schedstat`) !== null;
  const main = threadTimes(Deno.pid).find((t) => t.tid === Deno.pid);
  assert(main !== undefined && main.seconds > 0, "the main thread has run");
  // Nanoseconds of run time are a whole number of 10 ms ticks about once in a million.
  const ticks = main.seconds * 100;
  if (schedstat) assert(Math.abs(ticks - Math.round(ticks)) > 1e-9, `${main.seconds} s`);
  else assert(Math.abs(ticks - Math.round(ticks)) < 1e-6, `${main.seconds} s`);
});

Deno.test("threadTimes() sees this process's threads spend the CPU of a busy loop", () => {
  const before = threadTimes(Deno.pid);
  assert(before.some((t) => t.tid === Deno.pid), "the main thread is listed");
  const until = performance.now() + 300;
  let spin = 0;
  while (performance.now() < until) spin++;
  assert(spin > 0);
  const after = threadTimes(Deno.pid);
  // The test runner may run this code off the process's main thread: count every thread.
  const spent = Object.values(secondsByClass(Deno.pid, before, after)).reduce((a, b) => a + b);
  assert(spent >= 0.15 && spent < 1.5, `the threads spent ${spent} s over a 0.3 s busy loop`);
  assertEquals(classifyThread(Deno.pid, { tid: Deno.pid, name: "deno", seconds: 0 }), "event_loop");
  assertEquals(classifyThread(1, { tid: 2, name: "worker-1", seconds: 0 }), "inference_worker");
});

Deno.test("the exporter's named threads: readers and the inference worker are told apart", async () => {
  const { THREAD_NAMES } = await import("../../src/host/thread_cpu.ts");
  const reader = { tid: 3, name: THREAD_NAMES.reader, seconds: 0 };
  assertEquals(classifyThread(1, reader), "source_readers");
  assertEquals(
    classifyThread(1, { tid: 4, name: THREAD_NAMES.inference, seconds: 0 }),
    "inference_worker",
  );
  // A worker thread that names itself shows under its name in /proc.
  const code = `import { nameThread } from ${
    JSON.stringify(
      new URL("../../src/host/libc.ts", import.meta.url).href,
    )
  }; self.postMessage(nameThread("pose-test-name"));`;
  const worker = new Worker(`data:text/javascript,${encodeURIComponent(code)}`, { type: "module" });
  try {
    const named = await new Promise<boolean>((
      resolve,
    ) => (worker.onmessage = (e) => resolve(e.data)));
    assert(named, "prctl(PR_SET_NAME) failed");
    assert(
      threadTimes(Deno.pid).some((t) => t.name === "pose-test-name"),
      "no thread by that name",
    );
  } finally {
    worker.terminate();
  }
});
