// Writes one JSON line per processed frame to a file or stdout, buffered and in order.

import type { FrameResult, ResultSink } from "./result.ts";

/** Options of {@linkcode JsonlSink}. */
export interface JsonlSinkOptions {
  /** Buffered bytes that trigger a write. @default {65536} */
  flushBytes?: number;
  /** Longest time a line waits in the buffer, in ms. @default {1000} */
  flushIntervalMs?: number;
}

/** One person as written to JSONL. */
export interface JsonlPerson {
  box: number[];
  score: number;
  keypoints: number[][];
}

/** One line of the results file. */
export interface JsonlRecord {
  stream_id: string;
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

/** Builds the JSONL record of a result (coordinates in source pixels, rounded to 0.01). */
export function toJsonlRecord(result: FrameResult): JsonlRecord {
  const origin = performance.timeOrigin;
  return {
    stream_id: result.streamId,
    frame: result.frame.seq,
    captured_at_ms: round3(origin + result.frame.capturedAt),
    decoded_at_ms: round3(origin + result.decodedAt),
    latency_ms: round3(result.latencyMs),
    persons: result.persons.map((p) => {
      const keypoints: number[][] = [];
      for (let k = 0; k < p.keypoints.length; k += 3) {
        keypoints.push([
          round2(p.keypoints[k]!),
          round2(p.keypoints[k + 1]!),
          round3(p.keypoints[k + 2]!),
        ]);
      }
      return { box: p.box.map(round2), score: round3(p.score), keypoints };
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

/** A buffered JSONL writer. Lines are written in the order results arrive; close() flushes all. */
export class JsonlSink implements ResultSink {
  #out: { write(p: Uint8Array): Promise<number>; close?(): void };
  #closeOut: boolean;
  #lines: string[] = [];
  #bytes = 0;
  #flushBytes: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushIntervalMs: number;
  #chain: Promise<void> = Promise.resolve();
  #encoder = new TextEncoder();
  #error: Error | null = null;
  /** Lines handed to the writer so far. */
  written = 0;

  private constructor(
    out: { write(p: Uint8Array): Promise<number>; close?(): void },
    closeOut: boolean,
    options: JsonlSinkOptions,
  ) {
    this.#out = out;
    this.#closeOut = closeOut;
    this.#flushBytes = options.flushBytes ?? 65536;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
  }

  /**
   * Opens `path` for writing (created or truncated), or stdout for "-".
   *
   * @throws {ResultsFileError} naming the path when it cannot be opened
   */
  static async open(path: string, options: JsonlSinkOptions = {}): Promise<JsonlSink> {
    if (path === "-") return new JsonlSink(Deno.stdout, false, options);
    try {
      const file = await Deno.open(path, { write: true, create: true, truncate: true });
      return new JsonlSink(file, true, options);
    } catch (err) {
      throw new ResultsFileError(path, (err as Error).message, { cause: err });
    }
  }

  write(result: FrameResult): void {
    const line = JSON.stringify(toJsonlRecord(result)) + "\n";
    this.#lines.push(line);
    this.#bytes += line.length;
    this.written++;
    if (this.#bytes >= this.#flushBytes) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.#flushIntervalMs);
    }
  }

  #flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return this.#chain;
    const data = this.#encoder.encode(this.#lines.join(""));
    this.#lines = [];
    this.#bytes = 0;
    this.#chain = this.#chain.then(async () => {
      let offset = 0;
      try {
        while (offset < data.length) offset += await this.#out.write(data.subarray(offset));
      } catch (err) {
        this.#error ??= err as Error;
      }
    });
    return this.#chain;
  }

  /** The first write error, if any. */
  get error(): Error | null {
    return this.#error;
  }

  async close(): Promise<void> {
    await this.#flush();
    if (this.#closeOut) this.#out.close?.();
  }
}
