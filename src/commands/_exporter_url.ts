// Where a command on this host reaches the exporter: the address its --listen names (the flag's
// default, or POSE_EXPORTER_LISTEN as the exporter reads it), a wildcard host asked on loopback.

import { envNameOf, exporterFlag, type ListenAddress, parseListenAddress } from "../config.ts";

export type { ListenAddress };

/** The variable the exporter reads its --listen from. */
export const LISTEN_ENV: string = envNameOf("listen");

/**
 * The origin a client on this host asks for an exporter listening at `listen`.
 *
 * @param listen the exporter's listen address
 * @returns e.g. `http://127.0.0.1:8000` for 0.0.0.0:8000, `http://[::1]:8000` for [::]:8000
 */
export function exporterOrigin(listen: ListenAddress): string {
  const { hostname, port } = listen;
  const host = hostname === "0.0.0.0" || hostname === ""
    ? "127.0.0.1"
    : hostname === "::"
    ? "[::1]"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  return `http://${host}:${port}`;
}

/** The origin of an exporter on its default --listen (FLAGS' default, `0.0.0.0:8000`). */
export const DEFAULT_EXPORTER_ORIGIN: string = exporterOrigin(
  parseListenAddress(exporterFlag("listen").default ?? ""),
);

/** Options of {@linkcode exporterOriginFromEnv}. */
export interface ExporterOriginOptions {
  /** The flag whose default this is, named in a problem, e.g. `--url`. */
  flag: string;
  /** Where a bad POSE_EXPORTER_LISTEN is reported. */
  problems: string[];
}

/**
 * The origin of the exporter that POSE_EXPORTER_LISTEN places, else of one on its default
 * address: what a subcommand asks when its flag is not given. A bad value is a problem worded as
 * the exporter words it: `Invalid POSE_EXPORTER_LISTEN (for --url): "x" is not HOST:PORT ...`.
 *
 * @param env the environment
 * @param options the flag it stands for and where problems go
 * @returns the origin, without a final slash
 */
export function exporterOriginFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: ExporterOriginOptions,
): string {
  const value = env[LISTEN_ENV];
  if (value === undefined || value === "") return DEFAULT_EXPORTER_ORIGIN;
  try {
    return exporterOrigin(parseListenAddress(value));
  } catch (err) {
    options.problems.push(`Invalid ${LISTEN_ENV} (for ${options.flag}): ${(err as Error).message}`);
    return DEFAULT_EXPORTER_ORIGIN;
  }
}
