// The one reload action (SIGHUP, a change of the sources file, POST /-/reload): reopens the
// results file and brings the running streams in line with the sources file, one at a time.

import type { Logger } from "./log.ts";
import type { PoseMetrics } from "./metrics/pose_metrics.ts";
import type { JsonlSink } from "./pipeline/jsonl_sink.ts";
import { type SourcesFileWatch, watchSourcesFile } from "./sources/sources_file.ts";
import type { StreamRoster } from "./streams/roster.ts";
import { describeStreamsError, type StreamSpecs } from "./streams/stream_specs.ts";

/** The outcome of one reload. */
export interface ReloadOutcome {
  ok: boolean;
  message: string;
  /** The HTTP status for POST /-/reload. @default {200 when ok, else 500} */
  status?: number;
}

/** What {@linkcode ReloadAction} works on; the parts that start late are read when needed. */
export interface ReloadParts {
  specs: StreamSpecs;
  /** The running streams; null while the exporter starts. */
  roster: () => StreamRoster | null;
  /** The results file; null when there is none. */
  results: () => JsonlSink | null;
  /** Whether the exporter is stopping. */
  stopping: () => boolean;
  metrics: PoseMetrics;
  log: Logger;
  /** Deadline of the streams step. @default {STEP_TIMEOUT_MS} */
  stepTimeoutMs?: number;
}

/**
 * Longest a reload's streams step (read the sources file, check the tools, test the decoders)
 * may take; the results file's reopen has its own deadline (`OPEN_TIMEOUT_MS`).
 */
export const STEP_TIMEOUT_MS = 120_000;

/**
 * Runs reloads one at a time, and coalesces them: while one runs, at most one more waits, and
 * whoever asks meanwhile (a signal, the sources file, `POST /-/reload`) joins the one that
 * waits, so a flood of requests costs at most two reloads. A reload asked for while the exporter
 * starts runs once the streams are up ({@linkcode ReloadAction.started}). The results file is
 * reopened whatever the sources file holds; when reading or preparing the streams fails, the
 * running streams are kept.
 */
export class ReloadAction {
  #parts: ReloadParts;
  #running: Promise<ReloadOutcome> = Promise.resolve({ ok: true, message: "" });
  /** The reload that waits for the one running, with the requests that joined it. */
  #waiting: { outcome: Promise<ReloadOutcome>; joined: number } | null = null;
  #pending: string | null = null;
  #watch: SourcesFileWatch | null = null;
  /** A streams step that missed its deadline and has not returned yet. */
  #stuckSync: Promise<unknown> | null = null;

  constructor(parts: ReloadParts) {
    this.#parts = parts;
  }

  /** Where the wanted streams are read: the same at start, on reload and by the roster. */
  get specs(): StreamSpecs {
    return this.#parts.specs;
  }

  /** Watches the sources file from now on (from the start, so an edit while starting is kept). */
  watch(): void {
    const path = this.#parts.specs.sourcesFile;
    if (path === null || this.#watch !== null) return;
    this.#watch = watchSourcesFile(path, () => void this.request("sources file changed"));
    this.#parts.specs.follow(this.#watch);
  }

  /** The streams are up: a reload asked for meanwhile runs now. */
  started(): void {
    if (this.#pending !== null) void this.request(this.#pending);
  }

  /** Stops watching the sources file. */
  stop(): void {
    this.#watch?.stop();
  }

  /**
   * Asks for a reload; resolves with the outcome of the reload that serves it: a new one after
   * the one running, or the one already waiting for it (joined, not queued again).
   */
  request(trigger: string): Promise<ReloadOutcome> {
    if (this.#waiting !== null) {
      this.#waiting.joined++;
      return this.#waiting.outcome;
    }
    const waiting: { outcome: Promise<ReloadOutcome>; joined: number } = {
      joined: 0,
      outcome: Promise.resolve({ ok: true, message: "" }),
    };
    const start = (): Promise<ReloadOutcome> => {
      this.#waiting = null;
      return this.#once(trigger, waiting.joined);
    };
    // After the one running, whatever its outcome.
    waiting.outcome = this.#running.then(start, start);
    this.#waiting = waiting;
    this.#running = waiting.outcome;
    return waiting.outcome;
  }

  /**
   * The streams step with its deadline. A step that misses it fails the reload; while it has not
   * returned, later reloads skip the streams (reloads stay one at a time).
   */
  async #syncInTime(roster: StreamRoster) {
    const sync = roster.sync({ newFilesMustExist: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.#parts.stepTimeoutMs ?? STEP_TIMEOUT_MS);
    });
    try {
      const changes = await Promise.race([sync, late]);
      if (changes !== null) return changes;
    } finally {
      clearTimeout(timer);
    }
    this.#stuckSync = sync.catch(() => {}).finally(() => (this.#stuckSync = null));
    const seconds = (this.#parts.stepTimeoutMs ?? STEP_TIMEOUT_MS) / 1000;
    throw new Error(`reading and preparing the streams did not finish within ${seconds} s`);
  }

  async #once(trigger: string, joined = 0): Promise<ReloadOutcome> {
    const { roster: currentRoster, results, specs, metrics, log } = this.#parts;
    if (this.#parts.stopping()) {
      return { ok: false, message: "stopping: nothing reloaded", status: 503 };
    }
    const roster = currentRoster();
    if (roster === null) {
      this.#pending = trigger;
      log.info("reload asked for while starting: it runs once the streams have started", {
        trigger,
      });
      return {
        ok: true,
        message: "starting: the reload runs once the streams have started",
        status: 202,
      };
    }
    this.#pending = null;
    const done: string[] = [];
    const failed: string[] = [];
    // After a rotation by rename the lines must go to the new file even while the sources file
    // has a typo.
    const jsonl = results();
    if (jsonl !== null && jsonl.path !== "-") {
      try {
        await jsonl.reopen();
        done.push("results file reopened");
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
    if (specs.sourcesFile !== null && this.#stuckSync !== null) {
      failed.push(
        "the streams step of an earlier reload has not finished yet (the running streams are kept)",
      );
    } else if (specs.sourcesFile !== null) {
      try {
        const changes = await this.#syncInTime(roster);
        for (const [change, ids] of Object.entries(changes)) {
          if (change === "unchanged") continue;
          for (const id of ids) log.info(`stream ${change}`, { stream_id: id, trigger });
        }
        done.unshift(
          `${changes.added.length} added, ${changes.removed.length} removed, ` +
            `${changes.restarted.length} restarted, ${changes.unchanged.length} unchanged`,
        );
      } catch (err) {
        failed.push(`${describeStreamsError(err)} (the running streams are kept)`);
      }
    }
    const summary = done.length > 0 ? done.join("; ") : "nothing to reload";
    metrics.recordReload(failed.length === 0);
    if (failed.length > 0) {
      log.error("reload failed", {
        trigger,
        error: failed.join("; "),
        done: summary,
        coalesced: joined || undefined,
      });
      return { ok: false, message: `reload failed: ${failed.join("; ")}; done: ${summary}` };
    }
    log.info("reloaded", { trigger, changes: summary, coalesced: joined || undefined });
    return { ok: true, message: `reloaded: ${summary}` };
  }
}
