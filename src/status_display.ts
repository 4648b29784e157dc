// The live per-stream status: a redrawn block on a terminal, periodic structured log lines otherwise.

import type { Logger, LogWriter } from "./log.ts";
import type { PoseMetrics } from "./metrics/pose_metrics.ts";

/** One stream's figures as shown in the status. */
export interface StreamStatus {
  streamId: string;
  state: string;
  fps: number;
  p50Ms: number;
  p99Ms: number;
  frames: number;
  drops: number;
  persons: number;
  queued: number;
}

/** Reads every stream's current figures from the metrics. */
export function readStreamStatus(
  metrics: PoseMetrics,
  queueDepth: (stream: number) => number,
  state: (stream: number) => string,
): StreamStatus[] {
  return metrics.streamIds.map((streamId, s) => ({
    streamId,
    state: state(s),
    fps: metrics.fps.rate(s),
    p50Ms: metrics.latencyMs.quantile(s, 0.5),
    p99Ms: metrics.latencyMs.quantile(s, 0.99),
    frames: metrics.frames.value(s),
    drops: metrics.totalDrops(s),
    persons: metrics.persons.value(s),
    queued: queueDepth(s),
  }));
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "-");

/** Formats one status line, e.g. `s0  fps 30.0  p50 12.1 ms  p99 20.3 ms  drops 0  persons 2`. */
export function formatStatusLine(s: StreamStatus, idWidth: number): string {
  return `${s.streamId.padEnd(idWidth)}  ${s.state.padEnd(8)}  fps ${fmt(s.fps).padStart(6)}  ` +
    `p50 ${fmt(s.p50Ms).padStart(6)} ms  p99 ${fmt(s.p99Ms).padStart(6)} ms  ` +
    `frames ${String(s.frames).padStart(7)}  drops ${String(s.drops).padStart(5)}  ` +
    `queued ${String(s.queued).padStart(2)}  persons ${s.persons}`;
}

/** Options of {@linkcode StatusDisplay}. */
export interface StatusDisplayOptions {
  /** Redraw a block on the terminal (true) or log status lines (false). */
  live: boolean;
  /** Seconds between status log lines when not live. */
  intervalSeconds: number;
  /** Frames waiting per stream. */
  queueDepth: (stream: number) => number;
  /** Lifecycle state per stream. */
  state: (stream: number) => string;
}

const encoder = new TextEncoder();

/** Shows each stream's status: live on a terminal, as log lines otherwise. */
export class StatusDisplay {
  #metrics: PoseMetrics;
  #log: Logger;
  #options: StatusDisplayOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drawnLines = 0;
  #innerWriter: LogWriter;

  constructor(metrics: PoseMetrics, log: Logger, options: StatusDisplayOptions) {
    this.#metrics = metrics;
    this.#log = log;
    this.#options = options;
    this.#innerWriter = log.writer;
  }

  /** Starts the redraws (live) or the periodic log lines. */
  start(): void {
    if (this.#options.live) {
      const inner = this.#innerWriter;
      // Log lines print above the block: erase it, write the line, draw it again.
      this.#log.writer = {
        writeLine: (line: string) => {
          this.#erase();
          inner.writeLine(line);
          this.#draw();
        },
      };
      this.#timer = setInterval(() => {
        this.#erase();
        this.#draw();
      }, 1000);
    } else {
      this.#timer = setInterval(() => this.#logLines(), this.#options.intervalSeconds * 1000);
    }
  }

  /** Stops updating; a live block is left in place with its last figures. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#options.live) {
      this.#erase();
      this.#draw();
      this.#drawnLines = 0;
      this.#log.writer = this.#innerWriter;
    }
  }

  #statusLines(): string[] {
    const statuses = readStreamStatus(this.#metrics, this.#options.queueDepth, this.#options.state);
    const idWidth = Math.max(6, ...statuses.map((s) => s.streamId.length));
    const total = statuses.reduce((sum, s) => sum + s.fps, 0);
    return [
      ...statuses.map((s) => formatStatusLine(s, idWidth)),
      `${"total".padEnd(idWidth)}  fps ${fmt(total).padStart(6)}`,
    ];
  }

  #draw(): void {
    if (this.#timer === undefined && this.#drawnLines === 0 && !this.#options.live) return;
    const lines = this.#statusLines();
    Deno.stderr.writeSync(encoder.encode(lines.map((l) => `\x1b[2K${l}\n`).join("")));
    this.#drawnLines = lines.length;
  }

  #erase(): void {
    if (this.#drawnLines === 0) return;
    Deno.stderr.writeSync(encoder.encode(`\x1b[${this.#drawnLines}A\x1b[0J`));
    this.#drawnLines = 0;
  }

  #logLines(): void {
    for (
      const s of readStreamStatus(this.#metrics, this.#options.queueDepth, this.#options.state)
    ) {
      this.#log.info("stream status", {
        stream_id: s.streamId,
        state: s.state,
        fps: Number(fmt(s.fps)),
        latency_p50_ms: Number.isFinite(s.p50Ms) ? Number(fmt(s.p50Ms)) : null,
        latency_p99_ms: Number.isFinite(s.p99Ms) ? Number(fmt(s.p99Ms)) : null,
        frames: s.frames,
        drops: s.drops,
        queued: s.queued,
        persons: s.persons,
      });
    }
  }
}
