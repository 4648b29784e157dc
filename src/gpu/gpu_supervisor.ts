// Ties the GPU parts together: nvidia-smi reader, monitor, calibration and the fragmentation solver.

import type { Logger } from "../log.ts";
import { GpuMetrics } from "../metrics/gpu_metrics.ts";
import type { InferenceRunner } from "../pose/inference.ts";
import type { SwappableRunner } from "../pose/swappable_runner.ts";
import { FragmentationSolver } from "./fragmentation_solver.ts";
import { GpuMonitor } from "./gpu_monitor.ts";
import { type GpuReader, NvidiaSmiReader } from "./nvidia_smi.ts";
import type client from "prom-client";

/** GPU memory readings and the fragmentation solver. */
export interface GpuConfig {
  nvidiaSmiPath: string;
  /** GPU index as nvidia-smi prints it. */
  deviceId: number;
  pollMs: number;
  /** One nvidia-smi process per poll ("spawn") or a persistent -lms process ("loop"). */
  pollMethod: "loop" | "spawn";
  /** An nvidia-smi call that has not answered after this long is killed. */
  timeoutMs: number;
  /** The fragmentation solver acts ("on") or only observes ("off"). */
  solver: "on" | "off";
  fragTrigger: number;
  fragTarget: number;
  fragHysteresis: number;
  fragCooldown: number;
  fragMaxActionsPerHour: number;
  /** Window of the working batch shape. */
  fragWindowMs: number;
  /** Free memory needed beyond a session's own to rebuild, MiB. */
  fragMarginMiB: number;
}

/** Options of {@linkcode GpuSupervisor}. */
export interface GpuSupervisorOptions {
  registry: client.Registry;
  log: Logger;
  /** A reader to use instead of nvidia-smi (tests). */
  reader?: GpuReader;
}

/**
 * Starts GPU monitoring before the session exists (for the baseline), calibrates needed[b]
 * as each batch shape is warmed, and once the session runs lets the solver rebuild it.
 */
export class GpuSupervisor {
  readonly monitor: GpuMonitor;
  readonly metrics: GpuMetrics;
  #config: GpuConfig;
  #log: Logger;
  #solver: FragmentationSolver | null = null;
  /** The rebuild under way, if any: its readings are not used, and a stop waits for it. */
  #acting: Promise<unknown> | null = null;
  #stopped = false;

  constructor(config: GpuConfig, options: GpuSupervisorOptions) {
    this.#config = config;
    this.#log = options.log;
    this.metrics = new GpuMetrics(options.registry);
    const reader = options.reader ?? new NvidiaSmiReader({
      path: config.nvidiaSmiPath,
      method: config.pollMethod,
      intervalMs: config.pollMs,
      timeoutMs: config.timeoutMs,
    });
    this.monitor = new GpuMonitor(reader, {
      deviceId: String(config.deviceId),
      pollMs: config.pollMs,
      windowMs: config.fragWindowMs,
      metrics: this.metrics,
      log: options.log,
      onReading: (reading) => {
        if (this.#solver === null || this.#acting !== null || this.#stopped) return;
        this.#acting = this.#solver.onReading(reading).finally(() => (this.#acting = null));
      },
    });
  }

  /** Takes the baseline reading and starts polling. */
  start(): Promise<void> {
    return this.monitor.start();
  }

  /** Records needed[shape] right after a fresh session warmed up at `shape`. */
  async onWarm(shape: number): Promise<void> {
    if (this.monitor.off || !this.monitor.available) return;
    const mib = await this.monitor.calibrate(shape);
    if (mib !== null) {
      this.#log.info("GPU memory calibrated", { batch_shape: shape, needed_mib: mib });
    }
  }

  /** Records a batch run at `shape` (for the working shape). */
  recordShape(shape: number): void {
    this.monitor.workingShape.record(shape, performance.now());
  }

  /**
   * Lets the solver act on `runner`: a rebuild builds a new session with `build(shape)`,
   * swaps it in at a batch boundary, releases the old one and refreshes needed[shape].
   */
  attach(runner: SwappableRunner, build: (shape: number) => Promise<InferenceRunner>): void {
    const c = this.#config;
    const solver = new FragmentationSolver({
      enabled: c.solver === "on",
      trigger: c.fragTrigger,
      target: c.fragTarget,
      hysteresis: c.fragHysteresis,
      cooldown: c.fragCooldown,
      maxActionsPerHour: c.fragMaxActionsPerHour,
      marginMiB: c.fragMarginMiB,
    }, {
      log: this.#log,
      count: (kind, outcome) => this.metrics.solverActions.inc({ kind, outcome }),
      rebuild: async (shape) => {
        this.monitor.suspend();
        try {
          const next = await build(shape);
          await runner.swap(next);
          return { afterMiB: await this.monitor.calibrate(shape) };
        } finally {
          this.monitor.resume();
        }
      },
    });
    this.#solver = solver;
  }

  /** Stops polling; waits for a rebuild in progress to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#acting;
    await this.monitor.stop();
  }
}
