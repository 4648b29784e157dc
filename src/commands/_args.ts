// Flag parsing shared by the subcommands: node:util parseArgs errors turned into one line naming the flag.

import { parseArgs } from "node:util";
import { EXIT } from "../exit_codes.ts";

export { EXIT };

/**
 * The one-line message for an error thrown by `parseArgs` (strict, no positionals), in the
 * exporter's wording (`Unknown flag: --x`); null for any other error.
 *
 * @param err what parseArgs threw
 * @returns the message, or null when `err` is not a parseArgs error
 */
export function describeFlagError(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) return null;
  const message = (err as Error).message;
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const flag = /(--?[\w-]+)(?: <value>)?$/.exec(quoted)?.[1] ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown flag: ${flag}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument: ${quoted}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /does not take an argument/.test(message)
        ? `Flag ${flag} takes no value`
        : `Missing value for ${flag}`;
    default:
      return message.split("\n")[0]!;
  }
}

/**
 * Parses a whole number of at least `min` given to `flag`.
 *
 * @throws {RangeError} with a message naming the flag and the value
 */
export function parseWholeNumber(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Invalid ${flag}: ${JSON.stringify(text)} (a whole number, at least ${min})`,
    );
  }
  return value;
}

/** A subcommand's flags: each a string or a boolean, with its default. */
export type SubcommandFlags = Record<
  string,
  { type: "string"; default: string } | { type: "boolean"; default: boolean }
>;

/** The parsed values of {@linkcode SubcommandFlags}, by flag name. */
export type SubcommandValues = Record<string, string | boolean>;

/**
 * Parses a subcommand's flags the way every subcommand does: `--help`/`-h` prints `usage`
 * (exit 0); an unknown flag, a missing value, or a value `read` refuses with a RangeError prints
 * one line naming it (exit 2).
 *
 * @param command the subcommand's name, for messages
 * @param args the arguments after it
 * @param options the flags (`help` is added)
 * @param usage the --help text
 * @param read turns the values into the command's settings; throws RangeError for a bad value
 * @returns the settings, or the exit code when the command ends here
 */
export function parseSubcommandFlags<T>(
  command: string,
  args: string[],
  options: { flags: SubcommandFlags; usage: string },
  read: (values: SubcommandValues) => T,
): { settings: T } | { exitCode: number } {
  try {
    const { values } = parseArgs({
      args,
      options: { ...options.flags, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(options.usage);
      return { exitCode: EXIT.ok };
    }
    return { settings: read(values as SubcommandValues) };
  } catch (err) {
    const message = err instanceof RangeError ? err.message : describeFlagError(err);
    if (message === null) throw err;
    console.error(`pose-exporter ${command}: ${message} (see --help)`);
    return { exitCode: EXIT.usage };
  }
}
