// When the exporter stops: signals (from the first moment), --duration, an abort signal; and
// SIGHUP, which never stops it but asks for a reload.

import type { Logger } from "./log.ts";

/** setTimeout's largest delay (2^31 - 1 ms, about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `callback` after `ms` milliseconds, however long (setTimeout alone fires at once
 * beyond about 24.8 days).
 *
 * @returns a function that cancels it
 */
export function longTimeout(callback: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const due = Date.now() + ms;
  const arm = () => {
    const left = due - Date.now();
    timer = setTimeout(
      left > MAX_TIMER_MS ? arm : callback,
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    );
  };
  arm();
  return () => clearTimeout(timer);
}

/** A promise that resolves after `ms` milliseconds, and a way to cancel its timer. */
export function deadlineAfter(ms: number): { reached: Promise<void>; cancel: () => void } {
  let cancel = () => {};
  const reached = new Promise<void>((resolve) => {
    cancel = longTimeout(resolve, ms);
  });
  return { reached, cancel };
}

/** Signals this close to the first one are taken as the same request (one Ctrl-C seen twice). */
const SAME_SIGNAL_MS = 1000;

/** Options of {@linkcode StopControl}. */
export interface StopControlOptions {
  log: Logger;
  /** Aborting it stops the exporter as a signal would. */
  signal?: AbortSignal;
  /** Called on SIGHUP. */
  onReload?: () => void;
}

/**
 * Listens for SIGINT, SIGTERM and SIGHUP from construction to {@linkcode StopControl.dispose}.
 * The first SIGINT/SIGTERM requests a stop; a second one, a second or more later, forces it;
 * SIGHUP asks for a reload.
 */
export class StopControl {
  /** Resolves with the reason once a stop is requested. */
  readonly requested: Promise<string>;
  /**
   * Resolves with the signal's name on a second SIGINT/SIGTERM while a stop is under way: the
   * stop is to finish at once.
   */
  readonly forced: Promise<string>;
  #resolve: (reason: string) => void = () => {};
  #force: (signal: string) => void = () => {};
  #reason: string | null = null;
  #options: StopControlOptions;
  #handlers: [Deno.Signal, () => void][];
  #cancelDuration: () => void = () => {};
  #firstSignalAt = -Infinity;
  #onAbort = () => {
    const reason = this.#options.signal?.reason;
    this.request(typeof reason === "string" ? reason : "aborted");
  };

  constructor(options: StopControlOptions) {
    this.#options = options;
    this.requested = new Promise((resolve) => (this.#resolve = resolve));
    this.forced = new Promise((resolve) => (this.#force = resolve));
    const stopOn = (name: string) => () => {
      if (this.#reason === null) {
        this.#firstSignalAt = performance.now();
        this.request(name);
        return;
      }
      // One Ctrl-C can arrive twice (the terminal signals the whole process group, and a task
      // runner passes it on too): only a signal a moment after the first one forces the stop.
      if (performance.now() - this.#firstSignalAt < SAME_SIGNAL_MS) return;
      options.log.warn("second signal: stopping at once", { signal: name });
      this.#force(name);
    };
    this.#handlers = [
      ["SIGINT", stopOn("SIGINT")],
      ["SIGTERM", stopOn("SIGTERM")],
      ["SIGHUP", () => options.onReload?.()],
    ];
    for (const [sig, handler] of this.#handlers) Deno.addSignalListener(sig, handler);
    options.signal?.addEventListener("abort", this.#onAbort);
    if (options.signal?.aborted) this.#onAbort();
  }

  /** Why the stop was requested, or null while none was. */
  get reason(): string | null {
    return this.#reason;
  }

  /** Requests a stop (the first request wins). */
  request(reason: string): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#resolve(reason);
  }

  /** Requests a stop once `seconds` have passed from now. */
  stopAfter(seconds: number): void {
    this.#cancelDuration = longTimeout(() => this.request("duration elapsed"), seconds * 1000);
  }

  /**
   * Waits for `work`, unless a stop is requested first.
   *
   * @returns the work's value, or null when a stop came first
   */
  async unlessStopped<T>(work: Promise<T>): Promise<T | null> {
    const stopped = this.requested.then(() => null);
    return await Promise.race([work, stopped]);
  }

  /** Removes the listeners and the duration timer. */
  dispose(): void {
    for (const [sig, handler] of this.#handlers) Deno.removeSignalListener(sig, handler);
    this.#cancelDuration();
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
  }
}
