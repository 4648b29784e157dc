// Renders the doctor's results: one line per check (and a fix line under each failure), or JSON.

import type { CheckResult } from "./check_result.ts";

const LABEL = { ok: "ok  ", fail: "FAIL", skip: "skip" } as const;

/**
 * Renders results as text: `ok|FAIL|skip <check>: <seen>`, `     fix: <fix>` under each failure,
 * and a last line that names the first failure.
 *
 * @example
 * ```ts
 * renderText([{ check: "exporter metrics", status: "ok", seen: "answered" }]);
 * // "ok   exporter metrics: answered\n\ndoctor: all 1 checks passed\n"
 * ```
 *
 * @param results the checks, in order
 * @returns the text, ending in a newline
 */
export function renderText(results: readonly CheckResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${LABEL[r.status]} ${r.check}: ${r.seen}`);
    if (r.status === "fail" && r.fix) lines.push(`     fix: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === "fail");
  const skipped = results.filter((r) => r.status === "skip").length;
  lines.push("");
  lines.push(
    failed.length === 0
      ? `doctor: all ${results.length - skipped} checks passed${
        skipped ? ` (${skipped} skipped)` : ""
      }`
      : `doctor: ${failed.length} of ${results.length} checks failed; start with the first: ${
        failed[0]!.check
      }`,
  );
  return lines.join("\n") + "\n";
}

/** The JSON document `--json` prints. */
export interface DoctorJson {
  readonly ok: boolean;
  readonly failed: number;
  readonly checks: readonly CheckResult[];
}

/**
 * Renders results as one JSON document: `{ ok, failed, checks: [{ check, status, seen, fix? }] }`.
 *
 * @param results the checks, in order
 * @returns the JSON text, ending in a newline
 */
export function renderJson(results: readonly CheckResult[]): string {
  const failed = results.filter((r) => r.status === "fail").length;
  const doc: DoctorJson = { ok: failed === 0, failed, checks: results };
  return JSON.stringify(doc, null, 2) + "\n";
}
