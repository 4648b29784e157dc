// Polls nvidia-smi, publishes GPU memory metrics, and derives the exporter's fragmentation ratio.

import type { Logger } from "../log.ts";
import type { GpuMetrics } from "../metrics/gpu_metrics.ts";
import { CalibrationTable, fragmentationRatio, WorkingShape } from "./fragmentation.ts";
import type { SolverReading } from "./fragmentation_solver.ts";
import type { GpuPoll, GpuReader } from "./nvidia_smi.ts";

/** Options of {@linkcode GpuMonitor}. */
export interface GpuMonitorOptions {
  /** The exporter's GPU, as nvidia-smi's index ("0"). */
  deviceId: string;
  /** Poll interval. */
  pollMs: number;
  /** The exporter's pid, to find its own memory in the process list. @default {Deno.pid} */
  pid?: number;
  /** Window of the working batch shape. @default {60000} */
  windowMs?: number;
  metrics: GpuMetrics;
  log: Logger;
  /** Clock in ms. @default {performance.now} */
  now?: () => number;
  /** Receives each usable reading (the solver). */
  onReading?: (reading: SolverReading) => void;
}

/** The exporter's own memory on its device, and how it was found. */
export interface OwnUsage {
  usedMiB: number;
  /** "pid" when the process list shows the exporter, else "device_delta" (device used minus baseline). */
  method: "pid" | "device_delta";
}

/**
 * Polls a {@linkcode GpuReader} on a timer. Each poll updates `vram_usage_mb` and the other
 * per-device series; with a calibration table and a working shape it also computes
 * `vram_fragmentation_ratio` and hands the reading to `onReading` (the solver), except while
 * {@linkcode suspend}ed (a session is being built or released). No GPU (nvidia-smi missing,
 * no devices, no driver) is logged once and exports no device series.
 */
export class GpuMonitor {
  readonly workingShape: WorkingShape;
  readonly calibration = new CalibrationTable();
  #reader: GpuReader;
  #options: GpuMonitorOptions;
  #now: () => number;
  #pid: number;
  #baselineMiB: number | null = null;
  #suspended = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #inFlight: Promise<unknown> = Promise.resolve();
  #lastProblem: string | null = null;
  /** Whether a GPU reading has been seen. */
  available = false;
  /** Whether polling was given up for good (nvidia-smi missing). */
  off = false;

  constructor(reader: GpuReader, options: GpuMonitorOptions) {
    this.#reader = reader;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#pid = options.pid ?? Deno.pid;
    this.workingShape = new WorkingShape(options.windowMs ?? 60_000);
  }

  /** Polls once, before the session exists (the baseline), then keeps polling on the timer. */
  async start(): Promise<void> {
    const poll = await this.pollOnce();
    const device = poll?.gpus.find((g) => g.index === this.#options.deviceId);
    this.#baselineMiB = device?.usedMiB ?? null;
    if (poll && !device) {
      this.#options.log.warn("GPU not found by nvidia-smi: no fragmentation for it", {
        device_id: this.#options.deviceId,
        gpus: poll.gpus.map((g) => g.index).join(","),
      });
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.off) return;
    this.#timer = setTimeout(async () => {
      const poll = await this.pollOnce();
      if (poll && this.#suspended === 0) this.#evaluate(poll);
      this.#schedule();
    }, this.#options.pollMs);
  }

  /** Readings are not used for the ratio until {@linkcode resume}. */
  suspend(): void {
    this.#suspended++;
  }

  /** Ends one {@linkcode suspend}. */
  resume(): void {
    this.#suspended = Math.max(0, this.#suspended - 1);
  }

  /** Runs one poll and updates the metrics; resolves with the poll, or null when it gave no data. */
  pollOnce(): Promise<GpuPoll | null> {
    const run = this.#inFlight.then(() => this.#poll());
    this.#inFlight = run.catch(() => undefined);
    return run;
  }

  async #poll(): Promise<GpuPoll | null> {
    if (this.off) return null;
    const { metrics, log } = this.#options;
    const started = performance.now();
    const result = await this.#reader.poll();
    metrics.pollDuration.set((performance.now() - started) / 1000);
    if (result.kind === "ok") {
      metrics.pollSuccess.set(1);
      if (result.poll.garbageLines > 0) metrics.garbageLines.inc(result.poll.garbageLines);
      metrics.setDevices(result.poll.gpus.map((g) => ({
        deviceId: g.index,
        uuid: g.uuid,
        name: g.name,
        usedMiB: g.usedMiB,
        totalMiB: g.totalMiB,
      })));
      if (!this.available) {
        log.info("GPU memory metrics on", { gpus: result.poll.gpus.map((g) => g.index).join(",") });
      } else if (this.#lastProblem) {
        log.info("nvidia-smi answers again", { after: this.#lastProblem });
      }
      this.available = true;
      this.#lastProblem = null;
      return result.poll;
    }
    metrics.pollSuccess.set(0);
    // No reading, no device series: a dashboard shows a gap, not a stale value.
    metrics.setDevices([]);
    if (result.kind === "no_gpu") {
      if (result.reason === "missing_binary") {
        this.off = true;
        log.info(`${result.detail}: GPU metrics are off`);
      } else if (this.#lastProblem !== result.reason) {
        log.info("no GPU visible to nvidia-smi: GPU metrics are off until one is", {
          reason: result.reason,
          detail: result.detail,
        });
      }
    } else {
      metrics.pollErrors.inc({ reason: result.reason });
      if (this.#lastProblem !== result.reason) {
        log.warn("nvidia-smi poll failed; retrying each poll", {
          reason: result.reason,
          detail: result.detail,
        });
      }
    }
    this.#lastProblem = result.reason;
    return null;
  }

  /** The exporter's own memory in `poll`: by pid, else the device's used memory above the baseline. */
  ownUsage(poll: GpuPoll): OwnUsage | null {
    const device = poll.gpus.find((g) => g.index === this.#options.deviceId);
    if (!device) return null;
    const mine = poll.apps.filter((a) => a.pid === this.#pid && a.gpuUuid === device.uuid);
    if (mine.length > 0 && mine.every((a) => a.usedMiB !== null)) {
      return { usedMiB: mine.reduce((sum, a) => sum + a.usedMiB!, 0), method: "pid" };
    }
    if (device.usedMiB === null || this.#baselineMiB === null) return null;
    return { usedMiB: Math.max(0, device.usedMiB - this.#baselineMiB), method: "device_delta" };
  }

  /** Polls now and records the exporter's own memory as needed[shape]. */
  async calibrate(shape: number): Promise<number | null> {
    const poll = await this.pollOnce();
    const own = poll ? this.ownUsage(poll) : null;
    if (own === null) return null;
    this.calibration.set(shape, own.usedMiB);
    this.#options.metrics.setNeeded(this.#options.deviceId, shape, own.usedMiB);
    return own.usedMiB;
  }

  #evaluate(poll: GpuPoll): void {
    const own = this.ownUsage(poll);
    if (own === null) return;
    const now = this.#now();
    const shape = this.workingShape.current(now);
    const needed = shape === null ? null : this.calibration.get(shape);
    const ratio = fragmentationRatio(own.usedMiB, needed);
    this.#options.metrics.setExporter(this.#options.deviceId, {
      usedMiB: own.usedMiB,
      ratio,
      workingShape: shape,
    });
    if (ratio === null || shape === null || needed === null) return;
    const device = poll.gpus.find((g) => g.index === this.#options.deviceId)!;
    this.#options.onReading?.({
      ratio,
      usedMiB: own.usedMiB,
      freeMiB: device.freeMiB,
      neededMiB: needed,
      workingShape: shape,
      atMs: now,
    });
  }

  /** Stops polling and closes the reader. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    // Closing the reader first ends a call that hangs, so the stop does not wait for it.
    await this.#reader.close();
    await this.#inFlight;
  }
}
