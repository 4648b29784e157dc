// Decides when to give GPU memory back: rebuild the session when fragmentation stays above the trigger.

import type { Logger } from "../log.ts";

/** Options of {@linkcode FragmentationSolver}. */
export interface FragmentationSolverOptions {
  /** Act only when on; off only observes. @default {true} */
  enabled?: boolean;
  /** Ratio above which a poll counts towards an action. @default {0.2} */
  trigger?: number;
  /** An action that leaves the ratio above this is ineffective and doubles the cooldown. @default {0.15} */
  target?: number;
  /** Polls in a row above the trigger before acting. @default {3} */
  hysteresis?: number;
  /** Polls to wait after an action (or a skip for lack of room). @default {10} */
  cooldown?: number;
  /** Actions allowed in any hour. @default {6} */
  maxActionsPerHour?: number;
  /** Free device memory needed beyond needed[working] to build a second session, MiB. @default {512} */
  marginMiB?: number;
}

/** One usable poll as the solver sees it. */
export interface SolverReading {
  ratio: number;
  /** The exporter's own device memory, MiB. */
  usedMiB: number;
  /** Free memory on the device, MiB (null when nvidia-smi cannot say). */
  freeMiB: number | null;
  /** needed[working shape], MiB. */
  neededMiB: number;
  /** The working batch shape. */
  workingShape: number;
  /** Clock in ms. */
  atMs: number;
}

/** What the solver did on a poll. */
export type SolverDecision =
  | "observe"
  | "cooldown"
  | "rebuilt"
  | "failed"
  | "skipped_no_room"
  | "skipped_rate_limited"
  | "disabled";

/** The outcome of a rebuild, from the session swapper. */
export interface RebuildResult {
  /** The exporter's own memory after the old session was released, MiB, if it could be read. */
  afterMiB: number | null;
}

/** What the solver calls to act and to report. */
export interface SolverHooks {
  /** Builds a new session warmed at `shape`, swaps it in at a batch boundary, releases the old. */
  rebuild(shape: number): Promise<RebuildResult>;
  /** Counts an action by kind and outcome. */
  count(
    kind: "rebuild",
    outcome: "done" | "failed" | "skipped_no_room" | "skipped_rate_limited" | "ineffective",
  ): void;
  log: Logger;
}

/**
 * Watches fragmentation readings and rebuilds the inference session when the ratio has been
 * above the trigger for `hysteresis` polls in a row, when the device has room for a second
 * session, at most `maxActionsPerHour` times an hour, then waits `cooldown` polls (doubled
 * after an ineffective action). Readings taken during a rebuild are never passed in.
 */
export class FragmentationSolver {
  readonly options: Required<FragmentationSolverOptions>;
  #hooks: SolverHooks;
  #above = 0;
  #cooldownLeft = 0;
  #cooldown: number;
  #actions: number[] = [];
  #evaluatePending = false;
  #busy = false;

  constructor(options: FragmentationSolverOptions, hooks: SolverHooks) {
    this.options = {
      enabled: options.enabled ?? true,
      trigger: options.trigger ?? 0.2,
      target: options.target ?? 0.15,
      hysteresis: options.hysteresis ?? 3,
      cooldown: options.cooldown ?? 10,
      maxActionsPerHour: options.maxActionsPerHour ?? 6,
      marginMiB: options.marginMiB ?? 512,
    };
    this.#cooldown = this.options.cooldown;
    this.#hooks = hooks;
  }

  /** Whether a rebuild is under way (its readings must not be used). */
  get busy(): boolean {
    return this.#busy;
  }

  /** Takes one usable reading and acts on it. */
  async onReading(r: SolverReading): Promise<SolverDecision> {
    const o = this.options;
    const log = this.#hooks.log;
    if (this.#evaluatePending) {
      this.#evaluatePending = false;
      if (r.ratio > o.target) {
        this.#hooks.count("rebuild", "ineffective");
        this.#cooldown *= 2;
        this.#cooldownLeft = this.#cooldown;
        log.warn("fragmentation rebuild was ineffective: cooldown doubled", {
          ratio: round(r.ratio),
          target: o.target,
          cooldown_polls: this.#cooldown,
        });
      } else {
        this.#cooldown = o.cooldown;
      }
    }
    this.#above = r.ratio > o.trigger ? this.#above + 1 : 0;
    if (this.#cooldownLeft > 0) {
      this.#cooldownLeft--;
      return "cooldown";
    }
    if (this.#above < o.hysteresis) return "observe";
    if (!o.enabled) return "disabled";
    this.#above = 0;
    this.#actions = this.#actions.filter((t) => r.atMs - t < 3_600_000);
    if (this.#actions.length >= o.maxActionsPerHour) {
      this.#hooks.count("rebuild", "skipped_rate_limited");
      this.#cooldownLeft = this.#cooldown;
      log.warn("fragmentation above trigger: rebuild skipped, hourly limit reached", {
        ratio: round(r.ratio),
        actions_last_hour: this.#actions.length,
      });
      return "skipped_rate_limited";
    }
    const room = r.neededMiB + o.marginMiB;
    if (r.freeMiB === null || r.freeMiB < room) {
      this.#hooks.count("rebuild", "skipped_no_room");
      this.#cooldownLeft = this.#cooldown;
      log.warn("fragmentation above trigger: rebuild skipped, no room for a second session", {
        ratio: round(r.ratio),
        free_mib: r.freeMiB,
        needed_mib: room,
      });
      return "skipped_no_room";
    }
    this.#actions.push(r.atMs);
    this.#busy = true;
    log.info("fragmentation above trigger: rebuilding the session", {
      ratio: round(r.ratio),
      used_mib: r.usedMiB,
      needed_mib: r.neededMiB,
      working_shape: r.workingShape,
    });
    try {
      const result = await this.#hooks.rebuild(r.workingShape);
      this.#hooks.count("rebuild", "done");
      this.#evaluatePending = true;
      this.#cooldownLeft = this.#cooldown;
      log.info("session rebuilt", { used_mib_before: r.usedMiB, used_mib_after: result.afterMiB });
      return "rebuilt";
    } catch (err) {
      this.#hooks.count("rebuild", "failed");
      this.#cooldownLeft = this.#cooldown;
      log.error("session rebuild failed; the old session stays", { error: (err as Error).message });
      return "failed";
    } finally {
      this.#busy = false;
    }
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
