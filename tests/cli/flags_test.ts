// The one flag parser: each problem worded one way, the environment below the command line.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { type FlagSpec, FlagValues, HELP_FLAG, parseFlags } from "../../src/cli/flags.ts";
import { runExporter } from "../_helpers.ts";

const TABLE = [
  {
    name: "timeout-ms",
    kind: "integer",
    arg: "N",
    default: "3000",
    min: 1,
    max: 600000,
    env: "T_TIMEOUT_MS",
    help: "deadline",
  },
  { name: "ratio", kind: "number", arg: "R", default: "0.5", min: 0, max: 1, help: "ratio" },
  {
    name: "mode",
    kind: "choice",
    arg: "a|b",
    default: "a",
    choices: ["a", "b"],
    env: "T_MODE",
    help: "mode",
  },
  { name: "url", kind: "url", arg: "URL", default: "http://127.0.0.1:1", help: "a URL" },
  { name: "name", kind: "string", arg: "NAME", help: "a name" },
  { name: "tag", kind: "list", arg: "TAG", env: "T_TAG", help: "repeatable" },
  { name: "json", kind: "boolean", env: "T_JSON", help: "a switch" },
  HELP_FLAG,
] as const satisfies readonly FlagSpec[];

type Name = (typeof TABLE)[number]["name"];

/** Reads every flag of TABLE once, as a command does, and returns what was refused. */
function problemsOf(args: string[], env: Record<string, string> = {}): string[] {
  const values: FlagValues<Name> = parseFlags(args, TABLE, { env });
  values.required("timeout-ms");
  values.required("ratio");
  values.choice("mode");
  values.url("url");
  values.string("name");
  values.list("tag");
  values.bool("json");
  values.bool("help");
  return values.problems;
}

Deno.test("parseFlags() words a bad command line one way, naming the flag and the value", () => {
  assertEquals(problemsOf(["--nope", "-x", "extra", "--json=yes", "--name"]), [
    "Unknown flag: --nope (see --help)",
    "Unknown flag: -x (see --help)",
    'Unexpected argument: "extra" (flags start with --)',
    'Flag --json takes no value: "yes"',
    "Flag --name needs a value: NAME",
  ]);
});

Deno.test('parseFlags() words a bad value one way: Invalid --flag: "value" is not ...', () => {
  assertEquals(
    problemsOf([
      "--timeout-ms",
      "soon",
      "--ratio",
      "2",
      "--mode",
      "c",
      "--url",
      "ftp://x/y",
      "--name",
      "",
    ]),
    [
      'Invalid --timeout-ms: "soon" is not an integer in 1..600000',
      'Invalid --ratio: "2" is not a number in 0..1',
      'Invalid --mode: "c" is not one of a, b',
      'Invalid --url: "ftp://x/y" is not an http(s) URL',
      "Invalid --name: the value is empty",
    ],
  );
  assertEquals(problemsOf(["--timeout-ms", "1.5"]), [
    'Invalid --timeout-ms: "1.5" is not an integer in 1..600000',
  ]);
});

Deno.test("parseFlags() takes a flag's variable below the command line and names it in a problem", () => {
  const env = { T_TIMEOUT_MS: "50", T_MODE: "b", T_TAG: "x, y", T_JSON: "yes" };
  const fromEnv = parseFlags([], TABLE, { env });
  assertEquals(
    [
      fromEnv.required("timeout-ms"),
      fromEnv.choice("mode"),
      fromEnv.list("tag"),
      fromEnv.bool("json"),
    ],
    [50, "b", ["x", "y"], true],
  );
  const flagsWin = parseFlags(["--timeout-ms", "70", "--tag", "z"], TABLE, { env });
  assertEquals([flagsWin.required("timeout-ms"), flagsWin.list("tag")], [70, ["z"]]);
  assertEquals(problemsOf([], { T_TIMEOUT_MS: "soon", T_JSON: "maybe" }), [
    'Invalid T_TIMEOUT_MS (for --timeout-ms): "soon" is not an integer in 1..600000',
    'Invalid T_JSON (for --json): "maybe" is not one of 1, true, yes, on or 0, false, no, off',
  ]);
});

Deno.test("parseFlags() reads no variable for a flag whose entry names none", () => {
  const values = parseFlags([], TABLE, { env: { POSE_EXPORTER_RATIO: "0.9", RATIO: "0.9" } });
  assertEquals(values.required("ratio"), 0.5);
  assertEquals(values.given("ratio"), false);
});

Deno.test("parseFlags() fills defaults, tells them from given values, and reads -h as --help", () => {
  const values = parseFlags(["--", "-h", "--url", "localhost:9/x"], TABLE);
  assertEquals(values.problems, []);
  assert(values.bool("help"));
  assertEquals(values.required("timeout-ms"), 3000);
  assertEquals(values.given("timeout-ms"), false);
  assertEquals(values.given("url"), true);
  assertEquals(values.url("url")?.href, "http://localhost:9/x");
  assertEquals(values.string("name"), null);
  assertEquals(values.text("timeout-ms"), { value: "3000", origin: "--timeout-ms" });
});

Deno.test("FlagValues.invalid() words a command's own refusal as the parser words its own", () => {
  const values = parseFlags(["--name", "a b"], TABLE);
  values.invalid("name", "is not one word");
  assertEquals(values.problems, ['Invalid --name: "a b" is not one word']);
});

Deno.test("FlagValues refuses to read a flag as a kind it is not, a programming error", () => {
  const values = parseFlags([], TABLE) as unknown as FlagValues<string>;
  assertThrows(() => values.required("mode"), TypeError, "--mode is not a number/integer flag");
  assertThrows(() => values.bool("missing"), TypeError, "--missing");
});

Deno.test("a stray URL or a flag's unwanted value never shows its password", async () => {
  for (
    const args of [
      ["mqtt://cam:s3cretPW@broker.lan"],
      ["--mqtt-poses=mqtt://cam:s3cretPW@broker.lan"],
    ]
  ) {
    const out = await runExporter(args);
    assertEquals(out.code, 2, out.stderr);
    assert(!out.stderr.includes("s3cretPW"), out.stderr);
    assert(out.stderr.includes("mqtt://cam:***@broker.lan"), out.stderr);
  }
});
