// Structured logging to stderr as text or JSON lines, one line per event.

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Output form of log lines: readable text or one JSON object per line. */
export type LogFormat = "text" | "json";

/** Extra key/value fields carried by a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where finished log lines go; the status display hooks in here to keep its block intact. */
export interface LogWriter {
  /** Writes one complete line (without the trailing newline). */
  writeLine(line: string): void;
}

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

const encoder = new TextEncoder();

/** Writes lines to stderr synchronously, so that lines survive an exit right after them. */
export const STDERR_WRITER: LogWriter = {
  writeLine(line: string): void {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  },
};

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Text or JSON lines. @default {"text"} */
  format?: LogFormat;
  /** Lines below this level are dropped. @default {"info"} */
  level?: LogLevel;
  /** Where lines go. @default {STDERR_WRITER} */
  writer?: LogWriter;
}

function formatTextValue(value: string | number | boolean | null): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** A small structured logger: `log.info("stream up", { stream_id: "s0" })`. */
export class Logger {
  #format: LogFormat;
  #minLevel: number;
  #writer: LogWriter;

  constructor(options: LoggerOptions = {}) {
    this.#format = options.format ?? "text";
    this.#minLevel = LEVEL_ORDER[options.level ?? "info"];
    this.#writer = options.writer ?? STDERR_WRITER;
  }

  /** Where lines go. */
  get writer(): LogWriter {
    return this.#writer;
  }

  /**
   * Sends lines through `wrap(inner)` until the returned function is called (a live status
   * block erases itself around each line).
   */
  wrapWriter(wrap: (inner: LogWriter) => LogWriter): () => void {
    const inner = this.#writer;
    this.#writer = wrap(inner);
    return () => {
      this.#writer = inner;
    };
  }

  /** The output form this logger writes. */
  get format(): LogFormat {
    return this.#format;
  }

  /** Logs at debug level. */
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }

  /** Logs at info level. */
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }

  /** Logs at warn level. */
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }

  /** Logs at error level. */
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  /** Logs one line at the given level. */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (LEVEL_ORDER[level] < this.#minLevel) return;
    const ts = new Date().toISOString();
    if (this.#format === "json") {
      const record: Record<string, unknown> = { ts, level, msg };
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) record[key] = value;
      }
      this.#writer.writeLine(JSON.stringify(record));
      return;
    }
    let line = `${ts} ${level.toUpperCase().padEnd(5)} ${msg}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${formatTextValue(value)}`;
    }
    this.#writer.writeLine(line);
  }
}
