// The live per-stream status: a redrawn block on a terminal, periodic structured log lines otherwise.

import type { Logger, LogWriter } from "../log.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import { PIPELINE_STAGES } from "../metrics/definitions.ts";
import type { StreamSnapshot } from "../streams/stream_snapshot.ts";

const fmt = (v: number | null, digits = 1) =>
  v !== null && Number.isFinite(v) ? v.toFixed(digits) : "-";

/**
 * Formats one status line, e.g.
 * `s0      up        fps   30.0  p50   32.4 ms  p99   41.0 ms  frames     903  drops     0  queued  0  persons 2`.
 */
export function formatStatusLine(s: StreamSnapshot, idWidth: number): string {
  return `${s.id.padEnd(idWidth)}  ${s.state.padEnd(8)}  fps ${fmt(s.fps).padStart(6)}  ` +
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
  /** The running streams' snapshots. */
  streams: () => StreamSnapshot[];
}

/** The stage with the most time per frame since `previous`, e.g. `inference 12.3 ms`. */
export function slowestStage(
  metrics: PoseMetrics,
  previous: { sums: number[]; counts: number[] },
): string {
  let best = "";
  let bestMs = -1;
  PIPELINE_STAGES.forEach((stage, i) => {
    const sum = metrics.stageSeconds.sum(i);
    const count = metrics.stageSeconds.count(i);
    const frames = count - (previous.counts[i] ?? 0);
    const ms = frames > 0 ? ((sum - (previous.sums[i] ?? 0)) / frames) * 1000 : -1;
    previous.sums[i] = sum;
    previous.counts[i] = count;
    if (ms > bestMs) {
      bestMs = ms;
      best = `${stage} ${ms.toFixed(1)} ms`;
    }
  });
  return bestMs < 0 ? "-" : best;
}

/** The streams' fps together. */
function totalFps(streams: readonly StreamSnapshot[]): number {
  return streams.reduce((sum, s) => sum + s.fps, 0);
}

const encoder = new TextEncoder();

/** Shows each stream's status: live on a terminal, as log lines otherwise. */
export class StatusDisplay {
  #metrics: PoseMetrics;
  #log: Logger;
  #options: StatusDisplayOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drawnLines = 0;
  #restoreWriter: (() => void) | null = null;
  #stages = { sums: [] as number[], counts: [] as number[] };
  #slowest = "-";

  constructor(metrics: PoseMetrics, log: Logger, options: StatusDisplayOptions) {
    this.#metrics = metrics;
    this.#log = log;
    this.#options = options;
  }

  /** Starts the redraws (live) or the periodic log lines. */
  start(): void {
    if (this.#options.live) {
      // Log lines print above the block: erase it, write the line, draw it again.
      this.#restoreWriter = this.#log.wrapWriter((inner: LogWriter) => ({
        writeLine: (line: string) => {
          this.#erase();
          inner.writeLine(line);
          this.#draw();
        },
      }));
      this.#timer = setInterval(() => {
        this.#slowest = slowestStage(this.#metrics, this.#stages);
        this.#erase();
        this.#draw();
      }, 1000);
    } else {
      this.#timer = setInterval(() => this.#logLines(), this.#options.intervalSeconds * 1000);
    }
  }

  /** Stops updating; a live block is left in place with its last figures. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#options.live) {
      this.#erase();
      this.#draw();
      this.#drawnLines = 0;
      this.#restoreWriter?.();
      this.#restoreWriter = null;
    }
  }

  #statusLines(): string[] {
    const statuses = this.#read();
    const idWidth = Math.max(6, ...statuses.map((s) => s.id.length));
    const total = totalFps(statuses);
    return [
      ...statuses.map((s) => formatStatusLine(s, idWidth)),
      `${"total".padEnd(idWidth)}  fps ${fmt(total).padStart(6)}  slowest stage ${this.#slowest}`,
    ];
  }

  #read(): StreamSnapshot[] {
    return this.#options.streams();
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
    const slowest = slowestStage(this.#metrics, this.#stages);
    const streams = this.#read();
    for (const s of streams) {
      this.#log.info("stream status", {
        stream_id: s.id,
        state: s.state,
        fps: Number(fmt(s.fps)),
        latency_p50_ms: s.p50Ms === null ? null : Number(fmt(s.p50Ms)),
        latency_p99_ms: s.p99Ms === null ? null : Number(fmt(s.p99Ms)),
        frames: s.frames,
        drops: s.drops,
        queued: s.queued,
        persons: s.persons,
      });
    }
    // The slowest stage is of all streams together: one line for it, not a copy on each stream's.
    this.#log.info("status total", {
      streams: streams.length,
      fps: Number(fmt(totalFps(streams))),
      slowest_stage: slowest,
    });
  }
}
