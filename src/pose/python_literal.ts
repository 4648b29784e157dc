// Reads the Python literals Ultralytics writes into an ONNX file's metadata (`[17, 3]`, `{0: 'person'}`).

/** A Python literal as JavaScript: dicts become Maps (their keys may be numbers), tuples arrays. */
export type PythonValue =
  | null
  | boolean
  | number
  | string
  | PythonValue[]
  | Map<string | number | boolean | null, PythonValue>;

/** Thrown when a text is not a Python literal; names the position and what was found there. */
export class PythonLiteralError extends Error {
  /** Index of the character where reading failed. */
  readonly position: number;

  constructor(text: string, position: number, expected: string) {
    const found = position >= text.length
      ? "the end"
      : JSON.stringify(text.slice(position, position + 12));
    super(
      `Cannot read Python literal at character ${position}: expected ${expected}, found ${found}`,
    );
    this.name = "PythonLiteralError";
    this.position = position;
  }
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
};

/**
 * Reads one Python literal as `ast.literal_eval` would for what `repr()` writes: None, True,
 * False, ints, floats (inf and nan too), quoted strings, lists, tuples and dicts.
 *
 * @param text the literal, e.g. `{0: 'person'}` or `[17, 3]`
 * @returns its value; a dict is a `Map`
 * @throws {PythonLiteralError} naming where the text stops being a literal
 * @example
 * ```ts
 * import { parsePythonLiteral } from "./python_literal.ts";
 * parsePythonLiteral("[640, 640]"); // [640, 640]
 * ```
 */
export function parsePythonLiteral(text: string): PythonValue {
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (expected: string): never => {
    throw new PythonLiteralError(text, i, expected);
  };
  const sequence = (close: string): PythonValue[] => {
    const items: PythonValue[] = [];
    skip();
    while (text[i] !== close) {
      items.push(value());
      skip();
      if (text[i] === ",") {
        i++;
        skip();
      } else if (text[i] !== close) fail(`"," or "${close}"`);
    }
    i++;
    return items;
  };
  const quoted = (): string => {
    const quote = text[i]!;
    i++;
    let out = "";
    while (i < text.length && text[i] !== quote) {
      if (text[i] === "\\") {
        const next = text[i + 1] ?? "";
        if (next === "x" || next === "u") {
          const digits = next === "x" ? 2 : 4;
          const hex = text.slice(i + 2, i + 2 + digits);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== digits) fail("a hex escape");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 2 + digits;
          continue;
        }
        const escaped = ESCAPES[next];
        out += escaped ?? `\\${next}`;
        i += 2;
        continue;
      }
      out += text[i];
      i++;
    }
    if (i >= text.length) fail(`a closing ${quote}`);
    i++;
    return out;
  };
  const value = (): PythonValue => {
    skip();
    const c = text[i];
    if (c === "[") {
      i++;
      return sequence("]");
    }
    if (c === "(") {
      i++;
      return sequence(")");
    }
    if (c === "{") {
      i++;
      const map = new Map<string | number | boolean | null, PythonValue>();
      skip();
      while (text[i] !== "}") {
        const key = value();
        if (key !== null && typeof key === "object") {
          fail("a dict key that is a number or a string");
        }
        skip();
        if (text[i] !== ":") fail('":"');
        i++;
        map.set(key as string | number | boolean | null, value());
        skip();
        if (text[i] === ",") {
          i++;
          skip();
        } else if (text[i] !== "}") fail('"," or "}"');
      }
      i++;
      return map;
    }
    if (c === "'" || c === '"') return quoted();
    const word = /^(None|True|False|-?inf|nan)\b/.exec(text.slice(i));
    if (word) {
      i += word[0].length;
      const w = word[0];
      return w === "None"
        ? null
        : w === "True"
        ? true
        : w === "False"
        ? false
        : w === "nan"
        ? NaN
        : w.startsWith("-")
        ? -Infinity
        : Infinity;
    }
    const number = /^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?/.exec(text.slice(i));
    if (number && number[0] !== "" && /\d/.test(number[0])) {
      i += number[0].length;
      return Number(number[0].replaceAll("_", ""));
    }
    return fail("a value");
  };
  const result = value();
  skip();
  if (i !== text.length) fail("the end");
  return result;
}
