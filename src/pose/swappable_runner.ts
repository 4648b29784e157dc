// An inference runner whose session can be replaced at a batch boundary without losing or repeating a frame.

import type { Provider } from "./provider.ts";
import type { Frame } from "../sources/frame.ts";
import type { InferenceOutput, InferenceRunner } from "./inference.ts";

/**
 * Forwards each batch to the current runner. {@linkcode swap} installs a new runner: the
 * batch in flight finishes on the old one, the next batch starts on the new one, and the
 * old one is released once its last batch is done. Every batch runs exactly once.
 */
export class SwappableRunner implements InferenceRunner {
  #current: InferenceRunner;
  #inFlight = new Map<InferenceRunner, Set<Promise<unknown>>>();
  /** Swaps done so far. */
  swaps = 0;

  constructor(initial: InferenceRunner) {
    this.#current = initial;
  }

  get provider(): Provider {
    return this.#current.provider;
  }

  get shapes(): readonly number[] {
    return this.#current.shapes;
  }

  run(frames: readonly Frame[]): Promise<InferenceOutput> {
    const runner = this.#current;
    const result = runner.run(frames);
    let set = this.#inFlight.get(runner);
    if (!set) this.#inFlight.set(runner, set = new Set());
    const settled = result.catch(() => undefined).finally(() => set.delete(settled));
    set.add(settled);
    return result;
  }

  /**
   * Makes `next` the runner for every following batch; resolves once the old runner's
   * batch in flight has finished and the old runner is released.
   */
  async swap(next: InferenceRunner): Promise<void> {
    const old = this.#current;
    this.#current = next;
    this.swaps++;
    await Promise.all(this.#inFlight.get(old) ?? []);
    this.#inFlight.delete(old);
    await old.release();
  }

  release(): Promise<void> {
    return this.#current.release();
  }
}
