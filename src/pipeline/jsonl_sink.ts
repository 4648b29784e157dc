// Writes one JSON line per processed frame to a file or stdout, buffered, in order, appending;
// write errors are logged and counted, never silent; the file can be reopened (log rotation).

import type { Logger } from "../log.ts";
import type { FrameResult, ResultSink } from "./result.ts";

/** Options of {@linkcode JsonlSink}. */
export interface JsonlSinkOptions {
  /** Buffered bytes that trigger a write. @default {65536} */
  flushBytes?: number;
  /** Longest time a line waits in the buffer, in ms. @default {1000} */
  flushIntervalMs?: number;
  /** Where write errors are logged. */
  log?: Logger;
  /** Called with the number of lines lost each time lines are lost (for a metric). */
  onLost?: (lines: number) => void;
  /** Least time between two log lines about write errors, in ms. @default {5000} */
  errorLogIntervalMs?: number;
  /**
   * Bytes that may wait for a writer that does not keep up (a pipe nobody reads); lines beyond
   * are dropped and counted as lost, so memory stays bounded. @default {16 MiB}
   */
  maxPendingBytes?: number;
}

/** One person as written to JSONL. */
export interface JsonlPerson {
  box: number[];
  score: number;
  /**
   * Track id of the person in its stream (tracking on, the person tracked): unique per
   * `stream_id` within a run; `(run_id, stream_id, track_id)` names one person across appended
   * runs.
   */
  track_id?: number;
  /** Class index and name, for a model with several classes (Ultralytics' `class` and `name`). */
  class?: number;
  name?: string;
  /** The model's keypoints: [x, y, visibility], or [x, y] for a model without visibility. */
  keypoints: number[][];
}

/** One line of the results file. */
export interface JsonlRecord {
  stream_id: string;
  /** Run id of the exporter run whose tracker gave the `track_id`s (tracking on). */
  run_id?: string;
  frame: number;
  /** Epoch milliseconds when the frame's pixels were read. */
  captured_at_ms: number;
  /** Epoch milliseconds when its poses were decoded. */
  decoded_at_ms: number;
  latency_ms: number;
  persons: JsonlPerson[];
}

const round2 = (v: number) => Math.round(v * 100) / 100;
const round3 = (v: number) => Math.round(v * 1000) / 1000;

/**
 * The JSON of `result`'s JSONL record (one line, no newline), built once per result: the first
 * sink that asks builds it, the others read it from `result.json`.
 */
export function resultJson(result: FrameResult): string {
  return result.json ??= JSON.stringify(toJsonlRecord(result));
}

/**
 * Builds the JSONL record of a result: coordinates in source pixels, rounded to 0.01; each
 * person's keypoints as the model gives them ([x, y, v] or [x, y]); `class` and `name` for a
 * model with several classes; with tracking, the record's `run_id` and each tracked person's
 * `track_id`.
 */
export function toJsonlRecord(result: FrameResult): JsonlRecord {
  const origin = performance.timeOrigin;
  return {
    stream_id: result.streamId,
    ...(result.runId === undefined ? {} : { run_id: result.runId }),
    frame: result.frame.seq,
    captured_at_ms: round3(origin + result.frame.capturedAt),
    decoded_at_ms: round3(origin + result.decodedAt),
    latency_ms: round3(result.latencyMs),
    persons: result.persons.map((p) => {
      const dims = p.keypointDims ?? 3;
      const keypoints: number[][] = [];
      for (let k = 0; k + dims <= p.keypoints.length; k += dims) {
        const point = [round2(p.keypoints[k]!), round2(p.keypoints[k + 1]!)];
        if (dims === 3) point.push(round3(p.keypoints[k + 2]!));
        keypoints.push(point);
      }
      const person: JsonlPerson = p.trackId === undefined
        ? { box: p.box.map(round2), score: round3(p.score), keypoints }
        : { box: p.box.map(round2), score: round3(p.score), track_id: p.trackId, keypoints };
      if (p.classId !== undefined) {
        return {
          box: person.box,
          score: person.score,
          ...(p.trackId === undefined ? {} : { track_id: p.trackId }),
          class: p.classId,
          name: p.className,
          keypoints,
        };
      }
      return person;
    }),
  };
}

/** Thrown when the results file cannot be opened; names the path. */
export class ResultsFileError extends Error {
  readonly path: string;

  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`Cannot open results file ${path}: ${reason}`, options);
    this.name = "ResultsFileError";
    this.path = path;
  }
}

/** Longest wait for the results file to open (a FIFO without a reader waits for ever). */
export const OPEN_TIMEOUT_MS = 5000;

/** Paths whose open has not returned after {@linkcode OPEN_TIMEOUT_MS}. */
const STUCK_OPENS = new Set<string>();

/** Why opening `path` failed, in words that say what to do. */
function describeOpenError(path: string, err: unknown): string {
  const special = /^\/(dev|proc|sys)\//.test(path);
  if (
    special &&
    (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied)
  ) {
    return "special files are not opened as results files (for stdout, give --results -)";
  }
  return (err as Error).message;
}

/** Why opening `path` may not return, from what it is. */
async function describeStuckOpen(path: string): Promise<string> {
  const waited = `it did not open within ${OPEN_TIMEOUT_MS / 1000} s`;
  try {
    const stat = Deno.stat(path);
    const late = new Promise<null>((resolve) => setTimeout(() => resolve(null), 1000));
    const info = await Promise.race([stat, late]);
    if (info === null) return `${waited} (a hung network mount?)`;
    if (info.isFifo) return `${waited}: it is a FIFO, and no process reads it`;
    if (!info.isFile) return `${waited}: it is not a regular file (a device or a socket)`;
  } catch { /* the stat may hang or fail as the open did */ }
  return `${waited} (a hung network mount?)`;
}

/** Where a {@linkcode JsonlSink} writes: a file, stdout, or a test's stand-in. */
export type JsonlOutput = {
  write(p: Uint8Array): Promise<number>;
  close?(): void;
  stat?(): Promise<{ size: number }>;
  truncate?(len: number): Promise<void>;
};

/**
 * A buffered JSONL writer. Lines are written in the order results arrive. A failed write
 * (disk full, file made unwritable) loses the lines it held: they are counted, the first
 * error is logged at once and later ones at most every few seconds. {@linkcode JsonlSink.reopen}
 * opens the path again (after a rename by logrotate); the file is always opened for appending,
 * so a truncation by `copytruncate` leaves no hole.
 */
export class JsonlSink implements ResultSink {
  readonly path: string;
  #out: JsonlOutput;
  #lines: string[] = [];
  #bytes = 0;
  #flushBytes: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushIntervalMs: number;
  #chain: Promise<void> = Promise.resolve();
  #encoder = new TextEncoder();
  #options: JsonlSinkOptions;
  #lastErrorLog = -Infinity;
  #lostSinceLog = 0;
  #queuedLines = 0;
  #queuedBytes = 0;
  #maxPendingBytes: number;
  #reopenable = true;
  /** Lines written out in full so far. */
  written = 0;
  /** Lines that could not be written (write errors, or abandoned at a stop's deadline). */
  lost = 0;
  /** Of those, the lines still unwritten when a stop's deadline came. */
  abandoned = 0;

  private constructor(path: string, out: JsonlOutput, options: JsonlSinkOptions) {
    this.path = path;
    this.#out = out;
    this.#options = options;
    this.#flushBytes = options.flushBytes ?? 65536;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#maxPendingBytes = options.maxPendingBytes ?? 16 * 2 ** 20;
  }

  static async #openPath(path: string): Promise<JsonlOutput> {
    if (path === "-") return { write: (p) => Deno.stdout.write(p) };
    if (STUCK_OPENS.has(path)) {
      throw new ResultsFileError(
        path,
        "an earlier open of it has not returned yet (a FIFO nobody reads, a hung mount?)",
      );
    }
    const opening = Deno.open(path, { append: true, create: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), OPEN_TIMEOUT_MS);
    });
    try {
      const file = await Promise.race([opening, timedOut]);
      if (file !== null) return file;
    } catch (err) {
      throw new ResultsFileError(path, describeOpenError(path, err), { cause: err });
    } finally {
      clearTimeout(timer);
    }
    // The open waits in a thread that cannot be cancelled: never start another on this path
    // before it returns, and close what it opens late.
    STUCK_OPENS.add(path);
    opening.then((file) => file.close(), () => {}).finally(() => STUCK_OPENS.delete(path));
    throw new ResultsFileError(path, await describeStuckOpen(path));
  }

  /**
   * Opens `path` for appending (created when missing), or stdout for "-".
   *
   * @throws {ResultsFileError} naming the path when it cannot be opened
   */
  static async open(path: string, options: JsonlSinkOptions = {}): Promise<JsonlSink> {
    return new JsonlSink(path, await JsonlSink.#openPath(path), options);
  }

  /** A sink over an output that is already open (tests, embedding); `reopen` keeps it. */
  static over(label: string, out: JsonlOutput, options: JsonlSinkOptions = {}): JsonlSink {
    const sink = new JsonlSink(label, out, options);
    sink.#reopenable = false;
    return sink;
  }

  /**
   * Opens the path again and writes the next lines there (SIGHUP after log rotation); the
   * lines before go to the old file, which is then closed.
   *
   * @throws {ResultsFileError} naming the path when it cannot be opened; the old file stays
   */
  async reopen(): Promise<void> {
    if (this.path === "-" || !this.#reopenable) return;
    const next = await JsonlSink.#openPath(this.path);
    const flushed = this.#flush();
    const old = this.#out;
    this.#out = next;
    await flushed;
    old.close?.();
  }

  write(result: FrameResult): void {
    if (this.#bytes + this.#queuedBytes >= this.#maxPendingBytes) {
      const mib = Math.round(this.#maxPendingBytes / 2 ** 20);
      this.#recordLost(1, new Error(`the writer is ${mib} MiB behind (is the reader stalled?)`));
      return;
    }
    const line = resultJson(result) + "\n";
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= this.#flushBytes) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.#flushIntervalMs);
    }
  }

  #flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return this.#chain;
    const count = this.#lines.length;
    const data = this.#encoder.encode(this.#lines.join(""));
    this.#lines = [];
    this.#bytes = 0;
    this.#queuedLines += count;
    this.#queuedBytes += data.length;
    const out = this.#out;
    this.#chain = this.#chain.then(async () => {
      let offset = 0;
      try {
        while (offset < data.length) offset += await out.write(data.subarray(offset));
        this.written += count;
      } catch (err) {
        const done = countNewlines(data.subarray(0, offset));
        if (this.abandoned > 0) return;
        this.written += done;
        this.#recordLost(count - done, err as Error);
        await cutTornLine(out, data, offset);
      } finally {
        this.#queuedLines -= count;
        this.#queuedBytes -= data.length;
      }
    });
    return this.#chain;
  }

  #recordLost(lines: number, err: Error): void {
    // Lines abandoned at a stop's deadline were counted then; a late failure adds nothing.
    if (this.abandoned > 0) return;
    this.lost += lines;
    this.#lostSinceLog += lines;
    this.#options.onLost?.(lines);
    const now = performance.now();
    if (now - this.#lastErrorLog < (this.#options.errorLogIntervalMs ?? 5000)) return;
    this.#options.log?.error("cannot write results: lines lost", {
      file: this.path,
      error: err.message,
      lines_lost: this.#lostSinceLog,
      lines_lost_total: this.lost,
    });
    this.#lastErrorLog = now;
    this.#lostSinceLog = 0;
  }

  /** Lines taken but not yet written (buffered or being written). */
  get pending(): number {
    return this.#lines.length + this.#queuedLines;
  }

  /**
   * Writes out what is buffered and closes the file. With a `deadline` (a promise that
   * resolves when time is up) lines still unwritten then are abandoned and counted as lost.
   */
  async close(deadline?: Promise<void>): Promise<void> {
    const flushed = this.#flush().then(() => true);
    const inTime = deadline === undefined
      ? await flushed
      : await Promise.race([flushed, deadline.then(() => false)]);
    if (!inTime) {
      this.abandoned = this.pending;
      this.lost += this.abandoned;
      this.#options.onLost?.(this.abandoned);
    }
    this.#out.close?.();
  }
}

/**
 * After a write that failed part-way through a line, cuts that torn line off the file, so the
 * file keeps whole lines only (best effort: a full disk still allows shrinking a file).
 */
async function cutTornLine(out: JsonlOutput, data: Uint8Array, offset: number): Promise<void> {
  if (offset === 0 || data[offset - 1] === 10 || !out.stat || !out.truncate) return;
  const torn = offset - (data.subarray(0, offset).lastIndexOf(10) + 1);
  try {
    const { size } = await out.stat();
    await out.truncate(Math.max(0, size - torn));
  } catch {
    // The file cannot be shrunk either; the torn line stays.
  }
}

function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) n++;
  return n;
}
