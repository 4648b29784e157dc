// The --track* flags' cross-checks: a threshold already refused is not checked again against
// the other (no false second error), and a tracker setting with --no-track is refused.

import { assertEquals } from "../_assert.ts";
import { ConfigError, envNameOf, parseConfig } from "../../src/config.ts";

function problemsOf(args: string[], env: Record<string, string> = {}): string[] {
  try {
    parseConfig(["--streams", "1", ...args], env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

Deno.test("--track-high refused: one problem, no false --track-low cross-check", () => {
  for (const value of ["1.5", "abc", "", "-0.1"]) {
    assertEquals(problemsOf(["--track-high", value]), [
      `Invalid --track-high: ${JSON.stringify(value)} is not a number in 0..1`,
    ]);
  }
  assertEquals(problemsOf(["--track-low", "x"]), [
    'Invalid --track-low: "x" is not a number in 0..1',
  ]);
  assertEquals(problemsOf([], { [envNameOf("track-high")]: "2" }), [
    `Invalid ${envNameOf("track-high")} (for --track-high): "2" is not a number in 0..1`,
  ]);
});

Deno.test("--track-low above --track-high, both valid, is still refused", () => {
  assertEquals(problemsOf(["--track-high", "0.3", "--track-low", "0.5"]), [
    "Invalid --track-low: 0.5 is above --track-high 0.3",
  ]);
  assertEquals(problemsOf(["--track-high", "0.05"]), [
    "Invalid --track-low: 0.1 is above --track-high 0.05",
  ]);
});

Deno.test("--no-track with a tracker setting is refused naming both flags", () => {
  assertEquals(problemsOf(["--no-track", "--track-high", "0.3"]), [
    "Flags --no-track and --track-high contradict each other: give one",
  ]);
  assertEquals(problemsOf(["--no-track", "--track-buffer-s", "2", "--track-new", "0.5"]), [
    "Flags --no-track and --track-new contradict each other: give one",
    "Flags --no-track and --track-buffer-s contradict each other: give one",
  ]);
  assertEquals(problemsOf(["--no-track"], { [envNameOf("track-low")]: "0.2" }), [
    `Flags --no-track and ${envNameOf("track-low")} (for --track-low) contradict each other: ` +
    "give one",
  ]);
  assertEquals(parseConfig(["--streams", "1", "--no-track"]).tracking.enabled, false);
});
