// Where a command on this host reaches the exporter: the address its --listen names (the flag's
// default, or POSE_EXPORTER_LISTEN as the exporter reads it), a wildcard host asked on loopback,
// over https when the web config file it reads (POSE_EXPORTER_WEB_CONFIG_FILE) turns TLS on.

import { envNameOf, exporterFlag, type ListenAddress, parseListenAddress } from "../config.ts";
import { parseWebConfig, WebConfigError } from "../http/web_config.ts";

export type { ListenAddress };

/** The variable the exporter reads its --listen from. */
export const LISTEN_ENV: string = envNameOf("listen");

/** The variable the exporter reads its --web-config-file from. */
export const WEB_CONFIG_ENV: string = envNameOf("web-config-file");

/**
 * The origin a client on this host asks for an exporter listening at `listen`.
 *
 * @param listen the exporter's listen address
 * @param tls whether it serves HTTPS @default {false}
 * @returns e.g. `http://127.0.0.1:8000` for 0.0.0.0:8000, `http://[::1]:8000` for [::]:8000
 */
export function exporterOrigin(listen: ListenAddress, tls = false): string {
  const { hostname, port } = listen;
  const host = hostname === "0.0.0.0" || hostname === ""
    ? "127.0.0.1"
    : hostname === "::"
    ? "[::1]"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  return `${tls ? "https" : "http"}://${host}:${port}`;
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
  const tls = servesTls(env, options);
  const value = env[LISTEN_ENV];
  const listen = parseListenAddress(exporterFlag("listen").default ?? "");
  if (value === undefined || value === "") return exporterOrigin(listen, tls);
  try {
    return exporterOrigin(parseListenAddress(value), tls);
  } catch (err) {
    options.problems.push(`Invalid ${LISTEN_ENV} (for ${options.flag}): ${(err as Error).message}`);
    return DEFAULT_EXPORTER_ORIGIN;
  }
}

/** Whether the web config file POSE_EXPORTER_WEB_CONFIG_FILE names turns TLS on. */
function servesTls(
  env: Readonly<Record<string, string | undefined>>,
  options: ExporterOriginOptions,
): boolean {
  const path = env[WEB_CONFIG_ENV];
  if (path === undefined || path === "") return false;
  try {
    return parseWebConfig(Deno.readTextFileSync(path), path).tls !== null;
  } catch (err) {
    const why = err instanceof WebConfigError
      ? err.problems.join("; ")
      : err instanceof Deno.errors.NotFound
      ? `no such file ${JSON.stringify(path)}`
      : (err as Error).message;
    options.problems.push(`Invalid ${WEB_CONFIG_ENV} (for ${options.flag}): ${why}`);
    return false;
  }
}
