// pose-exporter's entry point: picks the subcommand (the exporter when none is named) and runs it.

import { reportFlagProblems } from "./src/cli/command_line.ts";
import { ConfigError, parseConfig, usage } from "./src/config.ts";
import { EXIT } from "./src/exit_codes.ts";
import { Logger } from "./src/log.ts";
import { VERSION } from "./src/version.ts";

const encoder = new TextEncoder();

/** A subcommand: takes the arguments after its name and returns the exit code. */
export type Subcommand = (args: string[]) => Promise<number>;

/**
 * The subcommands besides the exporter itself, by name. Each module exports one
 * `(args) => Promise<number>` function and is loaded only when its name is given.
 */
const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  doctor: async () => (await import("./src/commands/doctor.ts")).doctorCommand,
  selfcheck: async () => (await import("./src/commands/selfcheck.ts")).selfcheckCommand,
  healthcheck: async () => (await import("./src/commands/healthcheck.ts")).healthcheckCommand,
};

/**
 * Runs the exporter with command-line flags.
 *
 * @param args the flags after the program name
 * @returns the exit code
 */
async function runExporter(args: string[]): Promise<number> {
  // SIGINT/SIGTERM are honoured from here on: while the exporter's modules (and ONNX Runtime's
  // native library) load, a signal is kept and handed to the exporter as its stop reason.
  const early = new AbortController();
  const onEarly = (signal: Deno.Signal) => () => early.abort(signal);
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGINT", onEarly("SIGINT")],
    ["SIGTERM", onEarly("SIGTERM")],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  const releaseEarly = () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
  let config;
  try {
    config = parseConfig(args, Deno.env.toObject());
  } catch (err) {
    releaseEarly();
    if (!(err instanceof ConfigError)) throw err;
    return reportFlagProblems(null, err.problems);
  }
  if (config.help) {
    releaseEarly();
    Deno.stdout.writeSync(encoder.encode(usage(Object.keys(SUBCOMMANDS)) + "\n"));
    return EXIT.ok;
  }
  if (config.version) {
    releaseEarly();
    Deno.stdout.writeSync(encoder.encode(`pose-exporter ${VERSION}\n`));
    return EXIT.ok;
  }
  const log = new Logger({ format: config.run.logFormat, level: config.run.logLevel });
  for (const warning of config.warnings) log.warn(warning);
  // Loaded here, so subcommands (doctor, healthcheck) never load ONNX Runtime's native addon.
  const { runApp } = await import("./src/app.ts");
  return await runApp(config, {
    log,
    signal: early.signal,
    releaseSignals: false,
    onSignalsInstalled: releaseEarly,
  });
}

/**
 * Runs pose-exporter with command-line arguments: `pose-exporter [SUBCOMMAND] [flags]`.
 *
 * @param args the arguments after the program name
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  const load = first !== undefined ? SUBCOMMANDS[first] : undefined;
  if (load !== undefined) return await (await load())(rest);
  return await runExporter(args);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
