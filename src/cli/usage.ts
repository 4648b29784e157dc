// The --help text of a command, generated from its flag table: each flag's placeholder, help,
// default, range and environment variable come from its entry and are written nowhere else.

import { type FlagSpec, rangeText } from "./flags.ts";

/** What a command's --help says besides its flags. */
export interface UsageText {
  /** What follows `Usage: ` on each usage line, e.g. `pose-exporter doctor [flags]`. */
  synopsis: readonly string[];
  /** Paragraphs between the usage lines and the flags, each wrapped to 96 columns. @default {[]} */
  about?: readonly string[];
  /** The command's flag table. */
  flags: readonly FlagSpec[];
  /** Paragraphs after the flags, each wrapped to 96 columns. @default {[]} */
  notes?: readonly string[];
  /** Width of the flag column, the help starting one space after it. @default {longest + 2} */
  column?: number;
}

function flagLeft(flag: FlagSpec): string {
  const name = flag.name === "help" ? "-h, --help" : `--${flag.name}`;
  return `  ${name}${flag.arg ? " " + flag.arg : ""}`;
}

/** Width of the prose of a --help text; each flag's line is left whole, to be found by grep. */
const PROSE_WIDTH = 96;

/**
 * Breaks a paragraph into lines of at most `width` columns, at spaces (a longer word stands alone).
 *
 * @param paragraph the text
 * @param width the widest line
 * @returns the lines
 */
export function wrapText(paragraph: string, width: number = PROSE_WIDTH): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

function paragraphs(texts: readonly string[] | undefined): string[] {
  // A text with line breaks (a command to paste) keeps its lines as they are.
  return (texts ?? []).flatMap((p) => ["", ...(p.includes("\n") ? p.split("\n") : wrapText(p))]);
}

/**
 * One flag's --help line: `--name ARG  help (default D; MIN..MAX; env VARIABLE)`.
 *
 * @param flag the flag
 * @param column width of the flag column
 * @returns the line
 */
export function flagLine(flag: FlagSpec, column: number): string {
  const extras = [
    flag.default !== undefined ? `default ${flag.default}` : "",
    flag.kind === "number" || flag.kind === "integer" ? rangeText(flag) : "",
    flag.env !== undefined ? `env ${flag.env}` : "",
  ].filter((e) => e !== "");
  const tail = extras.length > 0 ? ` (${extras.join("; ")})` : "";
  return `${flagLeft(flag).padEnd(column)} ${flag.help}${tail}`;
}

/**
 * Renders a command's --help text: the usage lines, the paragraphs about it, `Flags:` with one
 * line per flag of its table, then the notes.
 *
 * @example
 * ```ts
 * import { HELP_FLAG } from "./flags.ts";
 * import { renderUsage } from "./usage.ts";
 * const text = renderUsage({ synopsis: ["pose-exporter healthcheck [flags]"], flags: [HELP_FLAG] });
 * // Usage: pose-exporter healthcheck [flags]
 * //
 * // Flags:
 * //   -h, --help   print this help and exit
 * ```
 *
 * @param text the synopsis, the lines about the command, its flags and notes
 * @returns the text, without a final newline
 */
export function renderUsage(text: UsageText): string {
  const column = text.column ?? Math.max(...text.flags.map((f) => flagLeft(f).length)) + 2;
  const lines = text.synopsis.map((s, i) => `${i === 0 ? "Usage: " : "       "}${s}`);
  lines.push(
    ...paragraphs(text.about),
    "",
    "Flags:",
    ...text.flags.map((f) => flagLine(f, column)),
  );
  lines.push(...paragraphs(text.notes));
  return lines.join("\n");
}
