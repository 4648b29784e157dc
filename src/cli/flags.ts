// The one flag parser of every pose-exporter command: a table of flags, read from the command line
// and the environment into checked values, each problem worded one way and collected, not thrown.

import { parseArgs } from "node:util";
import { redactUrlText } from "../mqtt/mqtt_url.ts";

/** A decimal number as a flag value: digits, a point, an exponent; no hex, octal or binary. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The kinds of flag value, each checked in its own way. */
export type FlagKind = "string" | "list" | "boolean" | "number" | "integer" | "choice" | "url";

/** One flag: everything about it in one place, the source of parsing and of --help. */
export interface FlagSpec<Name extends string = string> {
  /** The flag without its `--`, e.g. `timeout-ms`. */
  name: Name;
  /** How its value is read and checked. */
  kind: FlagKind;
  /** The value placeholder shown in --help. */
  arg?: string;
  /** The default as text; absent means "not set" (null). */
  default?: string;
  /** Inclusive lower end of a number or integer flag's range. */
  min?: number;
  /** Inclusive upper end of a number or integer flag's range. */
  max?: number;
  /** The accepted values of a choice flag. */
  choices?: readonly string[];
  /** The environment variable that sets the flag when the command line does not; absent: none. */
  env?: string;
  /** What it does, in a few words, for --help. */
  help: string;
}

/** `--help`, which every command takes (`-h` too), as one table entry. */
export const HELP_FLAG = {
  name: "help",
  kind: "boolean",
  help: "print this help and exit",
} as const satisfies FlagSpec;

/** Thrown when flags or environment variables are invalid; lists every problem found. */
export class FlagError extends Error {
  /** One message per bad flag or value. */
  readonly problems: string[];

  /**
   * Collects the problems into one error, its message one problem a line.
   *
   * @param problems one message per bad flag or value
   */
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "FlagError";
    this.problems = problems;
  }
}

/**
 * The range of a number or integer flag as --help and the messages write it.
 *
 * @param flag the flag
 * @returns `MIN..MAX`, `>= MIN`, or "" when it has no range
 */
export function rangeText(flag: FlagSpec): string {
  if (flag.min === undefined) return "";
  return flag.max !== undefined ? `${flag.min}..${flag.max}` : `>= ${flag.min}`;
}

/** A flag's text as the command line gave it: a value, `true` for a boolean, every value of a list. */
type RawValue = string | boolean | string[];

/** Reads the command line's tokens by the table; a token that fits no flag is a problem. */
function readRaw(
  args: readonly string[],
  specs: ReadonlyMap<string, FlagSpec>,
  problems: string[],
): Map<string, RawValue> {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const f of specs.values()) {
    options[f.name] = { type: f.kind === "boolean" ? "boolean" : "string", multiple: false };
  }
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const raw = new Map<string, RawValue>();
  for (const token of tokens ?? []) {
    if (token.kind === "positional") {
      // A stray value may be a URL with a password in it (a URL given without its flag).
      problems.push(
        `Unexpected argument: ${redactUrlText(JSON.stringify(token.value))} (flags start with --)`,
      );
      continue;
    }
    if (token.kind !== "option") continue;
    // -h is the one short flag, as most tools take it.
    const spec = specs.get(token.rawName === "-h" ? "help" : token.name);
    if (!spec) {
      problems.push(`Unknown flag: ${token.rawName} (see --help)`);
      continue;
    }
    if (spec.kind === "boolean") {
      if (token.value !== undefined) {
        problems.push(
          `Flag --${spec.name} takes no value: ${redactUrlText(JSON.stringify(token.value))}`,
        );
      }
      raw.set(spec.name, true);
      continue;
    }
    if (token.value === undefined) {
      problems.push(`Flag --${spec.name} needs a value: ${spec.arg ?? "VALUE"}`);
      continue;
    }
    if (spec.kind === "list") {
      const list = (raw.get(spec.name) as string[] | undefined) ?? [];
      list.push(token.value);
      raw.set(spec.name, list);
    } else {
      raw.set(spec.name, token.value);
    }
  }
  return raw;
}

const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["0", "false", "no", "off"];

/** Options of {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /** The environment, read for the flags that name a variable (`env`). @default {{}} */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Each flag's value, from the command line, else its environment variable, else its default.
 * A bad value is added to {@linkcode FlagValues.problems} (worded as `Invalid --x: "v" is not ...`)
 * and a stand-in returned, so that one pass names every problem.
 */
export class FlagValues<Name extends string = string> {
  /** Every problem found so far: the command line's, then each value's as it is read. */
  readonly problems: string[];
  #raw: ReadonlyMap<string, RawValue>;
  #env: Readonly<Record<string, string | undefined>>;
  #specs: ReadonlyMap<string, FlagSpec>;

  /**
   * Reads the command line by the table; values are checked as they are read.
   *
   * @param flags the table
   * @param args the command line after the command's name
   * @param options the environment
   */
  constructor(
    flags: readonly FlagSpec<Name>[],
    args: readonly string[],
    options: ParseFlagsOptions = {},
  ) {
    this.#specs = new Map(flags.map((f) => [f.name, f]));
    this.#env = options.env ?? {};
    this.problems = [];
    this.#raw = readRaw(args[0] === "--" ? args.slice(1) : args, this.#specs, this.problems);
  }

  #spec(name: Name, kinds: readonly FlagKind[]): FlagSpec {
    const spec = this.#specs.get(name);
    if (spec === undefined || !kinds.includes(spec.kind)) {
      throw new TypeError(`--${name} is not a ${kinds.join("/")} flag of this table`);
    }
    return spec;
  }

  #envValue(name: Name): { variable: string; value: string } | null {
    const variable = this.#specs.get(name)?.env;
    const value = variable === undefined ? undefined : this.#env[variable];
    return variable !== undefined && value !== undefined && value !== ""
      ? { variable, value }
      : null;
  }

  /**
   * Whether the flag was given, on the command line or by its environment variable.
   *
   * @param name the flag
   * @returns false when its value is the default
   */
  given(name: Name): boolean {
    return this.#raw.has(name) || this.#envValue(name) !== null;
  }

  /**
   * The flag's text and where it came from, for messages; the default when it was not given.
   *
   * @param name the flag
   * @returns the text (undefined without one) and `--x` or `VARIABLE (for --x)`
   */
  text(name: Name): { value: string | undefined; origin: string } {
    const raw = this.#raw.get(name);
    if (typeof raw === "string") return { value: raw, origin: `--${name}` };
    const fromEnv = this.#envValue(name);
    if (fromEnv !== null) {
      return { value: fromEnv.value, origin: `${fromEnv.variable} (for --${name})` };
    }
    return { value: this.#specs.get(name)?.default, origin: `--${name}` };
  }

  /**
   * Adds the problem `Invalid ORIGIN: "VALUE" REASON` for the flag's current text.
   *
   * @param name the flag
   * @param reason what is wrong, e.g. `is not HOST:PORT`
   */
  invalid(name: Name, reason: string): void {
    const { value, origin } = this.text(name);
    this.problems.push(`Invalid ${origin}: ${JSON.stringify(value ?? "")} ${reason}`);
  }

  /**
   * A string flag; an empty value is a problem.
   *
   * @param name the flag
   * @returns the value, or null when it has none and no default
   */
  string(name: Name): string | null {
    this.#spec(name, ["string"]);
    const { value, origin } = this.text(name);
    if (value === "") this.problems.push(`Invalid ${origin}: the value is empty`);
    return value ?? null;
  }

  /**
   * A number or integer flag within its range.
   *
   * @param name the flag
   * @returns the value (its minimum when bad), or null when it has none and no default
   */
  number(name: Name): number | null {
    const spec = this.#spec(name, ["number", "integer"]);
    const { value } = this.text(name);
    if (value === undefined) return null;
    // Decimal only: Number() would also take "0x10" (16), "1e3" is kept as a number.
    const parsed = DECIMAL.test(value.trim()) ? Number(value) : NaN;
    const integer = spec.kind === "integer";
    if (
      value.trim() === "" || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) ||
      (spec.min !== undefined && parsed < spec.min) || (spec.max !== undefined && parsed > spec.max)
    ) {
      this.invalid(name, `is not ${integer ? "an integer" : "a number"} in ${rangeText(spec)}`);
      return spec.min ?? 0;
    }
    return parsed;
  }

  /**
   * A number flag that has a default, so never null.
   *
   * @param name the flag
   * @returns the value
   */
  required(name: Name): number {
    return this.number(name) ?? 0;
  }

  /**
   * A choice flag: one of its choices.
   *
   * @param name the flag
   * @returns the value (its first choice when bad)
   */
  choice<T extends string>(name: Name): T {
    const spec = this.#spec(name, ["choice"]);
    const choices = spec.choices ?? [];
    const { value } = this.text(name);
    if (value !== undefined && choices.includes(value)) return value as T;
    this.invalid(name, `is not one of ${choices.join(", ")}`);
    return choices[0] as T;
  }

  /**
   * An http(s) URL flag; a value without `://` is taken as `http://VALUE`.
   *
   * @param name the flag
   * @returns the URL, or null when it is bad or has no value and no default
   */
  url(name: Name): URL | null {
    this.#spec(name, ["url"]);
    const { value } = this.text(name);
    if (value === undefined) return null;
    let url: URL | null = null;
    try {
      url = new URL(value.includes("://") ? value : `http://${value}`);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
      this.invalid(name, "is not an http(s) URL");
      return null;
    }
    return url;
  }

  /**
   * A boolean flag: given on the command line, or its variable set to 1/true/yes/on
   * (0/false/no/off for false).
   *
   * @param name the flag
   * @returns whether it is on
   */
  bool(name: Name): boolean {
    this.#spec(name, ["boolean"]);
    if (this.#raw.get(name) === true) return true;
    const fromEnv = this.#envValue(name);
    if (fromEnv === null) return false;
    const word = fromEnv.value.trim().toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (!FALSE_WORDS.includes(word)) {
      this.invalid(name, `is not one of ${TRUE_WORDS.join(", ")} or ${FALSE_WORDS.join(", ")}`);
    }
    return false;
  }

  /**
   * A repeatable flag: every value given, or its variable's comma-separated values.
   *
   * @param name the flag
   * @returns the values, in order
   */
  list(name: Name): string[] {
    this.#spec(name, ["list"]);
    const raw = this.#raw.get(name);
    if (Array.isArray(raw)) return raw;
    const fromEnv = this.#envValue(name);
    return fromEnv === null
      ? []
      : fromEnv.value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }
}

/**
 * Reads a command line by a flag table. A leading `--` (as `npm run x -- flags` habits leave) is
 * ignored. Flags win over their environment variables, which win over defaults.
 *
 * @example
 * ```ts
 * import { FlagValues, parseFlags } from "./flags.ts";
 * const values: FlagValues<"timeout-ms"> = parseFlags(["--timeout-ms", "soon"], [
 *   { name: "timeout-ms", kind: "integer", arg: "N", default: "3000", min: 1, max: 600000, help: "" },
 * ]);
 * values.required("timeout-ms");
 * // values.problems: ['Invalid --timeout-ms: "soon" is not an integer in 1..600000']
 * ```
 *
 * @param args the arguments after the command's name
 * @param flags the command's table
 * @param options the environment
 * @returns the values, read one by one; the command line's problems are already in `problems`
 */
export function parseFlags<Name extends string>(
  args: readonly string[],
  flags: readonly FlagSpec<Name>[],
  options: ParseFlagsOptions = {},
): FlagValues<Name> {
  return new FlagValues(flags, args, options);
}
