// pose-exporter's entry point: parses flags, then runs the exporter.

import { ConfigError, parseConfig, usage } from "./src/config.ts";
import { EXIT, runApp } from "./src/app.ts";
import { Logger } from "./src/log.ts";
import { VERSION } from "./src/version.ts";

const encoder = new TextEncoder();

/**
 * Runs pose-exporter with command-line arguments.
 *
 * @param args the arguments after the program name
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  let config;
  try {
    config = parseConfig(args, Deno.env.toObject());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.problems.map((p) => `pose-exporter: ${p}`);
    lines.push("Run with --help for the flags.");
    Deno.stderr.writeSync(encoder.encode(lines.join("\n") + "\n"));
    return EXIT.usage;
  }
  if (config.help) {
    Deno.stdout.writeSync(encoder.encode(usage() + "\n"));
    return EXIT.ok;
  }
  if (config.version) {
    Deno.stdout.writeSync(encoder.encode(`pose-exporter ${VERSION}\n`));
    return EXIT.ok;
  }
  const log = new Logger({ format: config.logFormat, level: config.logLevel });
  return await runApp(config, { log });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
