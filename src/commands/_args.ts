// Flag parsing shared by the subcommands: node:util parseArgs errors turned into one line naming the flag.

export { EXIT } from "../exit_codes.ts";

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
