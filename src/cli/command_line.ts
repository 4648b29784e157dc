// What every pose-exporter command does with its command line: --help prints the usage generated
// from its table (exit 0); bad flags are printed in one form, the same for every command (exit 2).

import { EXIT } from "../exit_codes.ts";
import { type FlagSpec, FlagValues } from "./flags.ts";

/** The program's name, the first word of every usage and problem line. */
export const PROGRAM = "pose-exporter";

/** The line after a command's flag problems. */
export const HELP_HINT = "Run with --help for the flags.";

/**
 * The lines that report a command's flag problems: `pose-exporter[ COMMAND]: PROBLEM` each, then
 * {@linkcode HELP_HINT}.
 *
 * @example
 * ```ts
 * import { flagProblemLines } from "./command_line.ts";
 * flagProblemLines("doctor", ['Invalid --timeout-ms: "soon" is not an integer in 1..600000']);
 * // ['pose-exporter doctor: Invalid --timeout-ms: "soon" is not an integer in 1..600000',
 * //  "Run with --help for the flags."]
 * ```
 *
 * @param command the subcommand's name, or null for the exporter
 * @param problems one message per bad flag or value
 * @returns the lines
 */
export function flagProblemLines(command: string | null, problems: readonly string[]): string[] {
  const prefix = command === null ? PROGRAM : `${PROGRAM} ${command}`;
  return [...problems.map((p) => `${prefix}: ${p}`), HELP_HINT];
}

/**
 * Prints a command's flag problems to stderr in the one form ({@linkcode flagProblemLines}).
 *
 * @param command the subcommand's name, or null for the exporter
 * @param problems one message per bad flag or value
 * @returns {@linkcode EXIT}.usage, the exit code of bad flags
 */
export function reportFlagProblems(command: string | null, problems: readonly string[]): number {
  console.error(flagProblemLines(command, problems).join("\n"));
  return EXIT.usage;
}

/** A subcommand's command line: its table, its --help and how its values become its settings. */
export interface CommandSpec<Name extends string, Settings> {
  /** The subcommand's name, as typed after `pose-exporter`. */
  name: string;
  /** Its flags, `help` among them. */
  flags: readonly FlagSpec<Name>[];
  /** Its --help text, generated from `flags` (see `renderUsage`). */
  usage: string;
  /**
   * Turns the values into the command's settings, reading each flag once; a value it refuses is
   * added to `values.problems` (e.g. with `values.invalid`), not thrown.
   */
  read(values: FlagValues<Name>, env: Readonly<Record<string, string | undefined>>): Settings;
}

/** What a command line came to: the settings to run with, or the exit code to end with now. */
export type CommandLine<Settings> = { settings: Settings } | { exitCode: number };

/** Options of {@linkcode readCommandLine}. */
export interface ReadCommandLineOptions {
  /** The arguments after the subcommand's name. */
  args: readonly string[];
  /** The environment, for the flags that name a variable. @default {{}} */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Reads a subcommand's command line. `--help`/`-h` prints its usage to stdout and ends with
 * {@linkcode EXIT}.ok, whatever else is wrong; otherwise every problem (unknown flags, missing
 * values, values `read` refuses) is printed in the one form and it ends with {@linkcode EXIT}.usage.
 *
 * @example
 * ```ts ignore
 * const line = readCommandLine(HEALTHCHECK, { args, env: Deno.env.toObject() });
 * if ("exitCode" in line) return line.exitCode;
 * ```
 *
 * @param command the subcommand's table, usage and reader
 * @param options its arguments and the environment
 * @returns the settings, or the exit code when the command ends here
 */
export function readCommandLine<Name extends string, Settings>(
  command: CommandSpec<Name, Settings>,
  options: ReadCommandLineOptions,
): CommandLine<Settings> {
  const env = options.env ?? {};
  const values = new FlagValues(command.flags, options.args, { env });
  if (command.flags.some((f) => f.name === "help") && values.bool("help" as Name)) {
    console.log(command.usage);
    return { exitCode: EXIT.ok };
  }
  const settings = command.read(values, env);
  if (values.problems.length > 0) {
    return { exitCode: reportFlagProblems(command.name, values.problems) };
  }
  return { settings };
}
