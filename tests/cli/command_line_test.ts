// Every command answers bad flags in one form (exit 2) and --help with the usage generated from
// its table (exit 0): the exporter, doctor, selfcheck and healthcheck alike.

import { assert, assertEquals } from "../_assert.ts";
import { runExporter } from "../_helpers.ts";
import {
  type CommandSpec,
  flagProblemLines,
  HELP_HINT,
  readCommandLine,
} from "../../src/cli/command_line.ts";
import { type FlagSpec, HELP_FLAG } from "../../src/cli/flags.ts";
import { EXIT } from "../../src/exit_codes.ts";
import { FLAGS } from "../../src/config.ts";
import { DOCTOR_FLAGS } from "../../src/commands/doctor.ts";
import { HEALTHCHECK_FLAGS } from "../../src/commands/healthcheck.ts";
import { SELFCHECK_FLAGS } from "../../src/commands/selfcheck.ts";

/** Every command, by the words that start it, with its flag table. */
const COMMANDS: [string[], readonly FlagSpec[]][] = [
  [[], FLAGS],
  [["doctor"], DOCTOR_FLAGS],
  [["selfcheck"], SELFCHECK_FLAGS],
  [["healthcheck"], HEALTHCHECK_FLAGS],
];

/** The stderr of a command refusing `problems`, in the one form. */
function refusal(words: string[], problems: string[]): string {
  return flagProblemLines(words[0] ?? null, problems).join("\n") + "\n";
}

/** Calls `fn` with console.log and console.error collected. */
function capture<T>(fn: () => T): { result: T; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => out.push(line);
  console.error = (line: string) => err.push(line);
  try {
    return { result: fn(), out, err };
  } finally {
    Object.assign(console, { log, error });
  }
}

Deno.test("flagProblemLines() prefixes each problem with the command, then says where help is", () => {
  assertEquals(flagProblemLines(null, ["a", "b"]), [
    "pose-exporter: a",
    "pose-exporter: b",
    HELP_HINT,
  ]);
  assertEquals(flagProblemLines("doctor", ["a"]), ["pose-exporter doctor: a", HELP_HINT]);
  assertEquals(HELP_HINT, "Run with --help for the flags.");
});

Deno.test("readCommandLine() prints --help whatever else is wrong, else every problem at once", () => {
  const flags = [
    { name: "n", kind: "integer", arg: "N", default: "1", min: 1, max: 9, help: "a count" },
    HELP_FLAG,
  ] as const satisfies readonly FlagSpec[];
  const command: CommandSpec<"n" | "help", number> = {
    name: "demo",
    flags,
    usage: "Usage: demo",
    read: (values) => values.required("n"),
  };
  const help = capture(() => readCommandLine(command, { args: ["--bogus", "-h"] }));
  assertEquals(help.result, { exitCode: EXIT.ok });
  assertEquals([help.out, help.err], [["Usage: demo"], []]);
  const bad = capture(() => readCommandLine(command, { args: ["--bogus", "--n", "10"] }));
  assertEquals(bad.result, { exitCode: EXIT.usage });
  assertEquals(bad.out, []);
  assertEquals(bad.err.join("\n").split("\n"), [
    "pose-exporter demo: Unknown flag: --bogus (see --help)",
    'pose-exporter demo: Invalid --n: "10" is not an integer in 1..9',
    HELP_HINT,
  ]);
  assertEquals(capture(() => readCommandLine(command, { args: ["--n", "3"] })).result, {
    settings: 3,
  });
});

Deno.test("cli - doctor --timeout-ms soon and --streams x answer in the same form, exit 2", async () => {
  const doctor = await runExporter(["doctor", "--timeout-ms", "soon"]);
  assertEquals(doctor.code, EXIT.usage);
  assertEquals(doctor.stdout, "");
  assertEquals(
    doctor.stderr,
    'pose-exporter doctor: Invalid --timeout-ms: "soon" is not an integer in 1..600000\n' +
      "Run with --help for the flags.\n",
  );
  const exporter = await runExporter(["--streams", "x"]);
  assertEquals(exporter.code, EXIT.usage);
  assertEquals(exporter.stdout, "");
  assertEquals(
    exporter.stderr,
    'pose-exporter: Invalid --streams: "x" is not an integer in 0..1024\n' +
      "Run with --help for the flags.\n",
  );
});

Deno.test("cli - every command refuses an unknown flag in the same form, exit 2", async () => {
  for (const [words] of COMMANDS) {
    const { code, stdout, stderr } = await runExporter([...words, "--frobnicate"]);
    assertEquals(code, EXIT.usage, words.join(" "));
    assertEquals(stdout, "", words.join(" "));
    assertEquals(stderr, refusal(words, ["Unknown flag: --frobnicate (see --help)"]));
  }
});

Deno.test("cli - every command's --help and -h print the usage generated from its table, exit 0", async () => {
  for (const [words, flags] of COMMANDS) {
    const name = ["pose-exporter", ...words].join(" ");
    for (const help of ["--help", "-h"]) {
      const { code, stdout, stderr } = await runExporter([...words, help]);
      assertEquals(code, EXIT.ok, `${name} ${help}: ${stderr}`);
      assert(stdout.startsWith(`Usage: ${name} [flags]`), stdout);
      const lines = stdout.split("\n");
      for (const flag of flags) {
        const line = lines.find((l) => new RegExp(`^  (-h, )?--${flag.name}( |$)`).test(l)) ?? "";
        assert(line.includes(flag.help), `${name}: --${flag.name} has its help`);
        if (flag.default !== undefined) {
          assert(line.includes(`default ${flag.default}`), `${name}: ${line} shows its default`);
        }
      }
    }
  }
});

Deno.test("cli - a subcommand names the exporter's variable it reads, in its help and its refusal", async () => {
  const help = await runExporter(["selfcheck", "--help"]);
  assert(help.stdout.includes("(default auto; env POSE_EXPORTER_PROVIDER)"), help.stdout);
  const bad = await runExporter(["selfcheck"], { POSE_EXPORTER_DEVICE: "first" });
  assertEquals(bad.code, EXIT.usage);
  assertEquals(
    bad.stderr,
    refusal(["selfcheck"], [
      'Invalid POSE_EXPORTER_DEVICE (for --device): "first" is not an integer in 0..255',
    ]),
  );
});
