// CPU time per thread of a process (and of its children) from the kernel's own accounting,
// /proc/PID/task/TID/schedstat (nanoseconds) where the kernel has it, else /proc/…/stat (clock
// ticks of 10 ms), read through the C library (Deno's permissions let only --allow-all read
// /proc's special files).

import { listProcEntries, readProcFile } from "./libc.ts";

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux x86-64 and arm64). */
export const TICKS_PER_SECOND = 100;

/** One thread's CPU time so far. */
export interface ThreadTime {
  tid: number;
  /** The thread's name (`comm`): `deno` for the main thread, `worker-1`, `V8 DefaultWorke`. */
  name: string;
  /**
   * User plus system CPU seconds: the scheduler's run time in nanoseconds (schedstat) where the
   * kernel has it, else stat's clock ticks, whose 10 ms step makes a short measurement coarse.
   */
  seconds: number;
}

/**
 * The run time from one `/proc/…/schedstat` line (`run_ns wait_ns timeslices`), in seconds: the
 * same CPU time as stat's utime + stime (which the kernel scales to it), at nanosecond
 * resolution. Null where the line is not that.
 */
export function parseSchedstat(text: string): number | null {
  const first = text.trim().split(/\s+/)[0]!;
  const runNs = Number(first);
  return first !== "" && Number.isFinite(runNs) ? runNs / 1e9 : null;
}

/**
 * Parses one `/proc/…/stat` line: the name in parentheses (it may hold spaces and parentheses),
 * then utime and stime (fields 14 and 15), in ticks.
 */
export function parseStat(text: string): { name: string; ticks: number } | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { name: text.slice(open + 1, close), ticks: utime + stime };
}

/** Every thread of process `pid` with its CPU time; empty where /proc cannot be read. */
export function threadTimes(pid: number): ThreadTime[] {
  const times: ThreadTime[] = [];
  for (const tid of listProcEntries(`/proc/${pid}/task`) ?? []) {
    const stat = readProcFile(`/proc/${pid}/task/${tid}/stat`, 4096);
    const parsed = stat === null ? null : parseStat(stat);
    if (parsed === null) continue;
    const sched = readProcFile(`/proc/${pid}/task/${tid}/schedstat`, 256);
    const seconds = (sched === null ? null : parseSchedstat(sched)) ??
      parsed.ticks / TICKS_PER_SECOND;
    times.push({ tid: Number(tid), name: parsed.name, seconds });
  }
  return times;
}

/** The child processes of `pid` (all its threads' children). */
export function childProcesses(pid: number): number[] {
  const children: number[] = [];
  for (const tid of listProcEntries(`/proc/${pid}/task`) ?? []) {
    const text = readProcFile(`/proc/${pid}/task/${tid}/children`, 65536) ?? "";
    for (const child of text.trim().split(/\s+/)) if (child !== "") children.push(Number(child));
  }
  return children;
}

/** CPU seconds of a whole process (all its threads), from /proc/PID/stat. */
export function processSeconds(pid: number): number {
  const stat = readProcFile(`/proc/${pid}/stat`, 4096);
  const parsed = stat === null ? null : parseStat(stat);
  return parsed === null ? 0 : parsed.ticks / TICKS_PER_SECOND;
}

/**
 * The names the exporter's worker threads give themselves (`nameThread`), so that their CPU can
 * be told apart: the inference worker (and the ONNX Runtime threads it starts, which inherit the
 * name) and the pipe reader threads.
 */
export const THREAD_NAMES = { inference: "pose-inference", reader: "pose-reader" } as const;

/**
 * What a thread is, in the exporter: its event loop, the inference worker (with ONNX Runtime's
 * threads), the pipe readers, V8's helpers (GC, compiler), the I/O pool.
 */
export type ThreadClass =
  | "event_loop"
  | "inference_worker"
  | "source_readers"
  | "v8_helpers"
  | "io_pool"
  | "other";

/** The class of thread `time` of process `pid`. */
export function classifyThread(pid: number, time: ThreadTime): ThreadClass {
  if (time.tid === pid) return "event_loop";
  if (time.name === THREAD_NAMES.reader) return "source_readers";
  if (time.name === THREAD_NAMES.inference || time.name.startsWith("worker-")) {
    return "inference_worker";
  }
  if (time.name.startsWith("V8 ")) return "v8_helpers";
  if (time.name.startsWith("tokio-")) return "io_pool";
  return "other";
}

/** CPU seconds per thread class of `pid` between two samples. */
export function secondsByClass(
  pid: number,
  before: readonly ThreadTime[],
  after: readonly ThreadTime[],
): Record<ThreadClass, number> {
  const start = new Map(before.map((t) => [t.tid, t.seconds]));
  const out: Record<ThreadClass, number> = {
    event_loop: 0,
    inference_worker: 0,
    source_readers: 0,
    v8_helpers: 0,
    io_pool: 0,
    other: 0,
  };
  for (const t of after) out[classifyThread(pid, t)] += t.seconds - (start.get(t.tid) ?? 0);
  return out;
}
