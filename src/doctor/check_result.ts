// One doctor check's outcome: ok, fail or skip, what was seen and, under a failure, the fix.

/** How a check ended: `fail` is a broken link, `skip` a check that could not run. */
export type CheckStatus = "ok" | "fail" | "skip";

/** One check's outcome, printed as `ok|FAIL|skip <check>: <seen>` and `fix: <fix>` under a failure. */
export interface CheckResult {
  /** What was checked, e.g. `exporter metrics` or `prometheus target 127.0.0.1:8000`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was seen, in one line. */
  readonly seen: string;
  /** How to fix it (failures only). */
  readonly fix?: string;
}

/**
 * A passed check.
 *
 * @param check what was checked
 * @param seen what was seen
 * @returns the result
 */
export function ok(check: string, seen: string): CheckResult {
  return { check, status: "ok", seen };
}

/**
 * A failed check with its fix.
 *
 * @param check what was checked
 * @param seen what was wrong
 * @param fix how to fix it
 * @returns the result
 */
export function fail(check: string, seen: string, fix: string): CheckResult {
  return { check, status: "fail", seen, fix };
}

/**
 * A check that could not run, with the reason.
 *
 * @param check what would have been checked
 * @param reason why it was not
 * @returns the result
 */
export function skip(check: string, reason: string): CheckResult {
  return { check, status: "skip", seen: reason };
}
