// A short id for one run of the exporter, so track ids of runs appended to one file stay apart.

/** Options of {@linkcode createRunId}. */
export interface RunIdOptions {
  /** Wall clock in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
  /** Uniform random numbers in [0, 1). @default {Math.random} */
  random?: () => number;
}

/** What a run id looks like: base-36 start time, a dash, four random base-36 characters. */
export const RUN_ID_PATTERN = /^[0-9a-z]{1,12}-[0-9a-z]{4}$/;

/**
 * Makes a run id: the start time in base 36 (sorts by start time when the lengths match, which
 * holds until the year 5188) and four random characters so that two runs started in the same
 * millisecond still differ. Track ids are small integers per stream; the pair
 * (run id, track id) is unique across runs appended to one results file.
 *
 * @param options Clock and random source, for tests.
 * @returns A run id such as `"mh3k2x1c-7f0q"`.
 *
 * @example
 * ```ts
 * const runId = createRunId(); // e.g. "mh3k2x1c-7f0q"
 * ```
 */
export function createRunId(options: RunIdOptions = {}): string {
  const now = (options.now ?? Date.now)();
  const random = options.random ?? Math.random;
  let suffix = "";
  for (let i = 0; i < 4; i++) suffix += Math.floor(random() * 36).toString(36);
  return `${Math.floor(now).toString(36)}-${suffix}`;
}
