// pose-exporter healthcheck: asks a running exporter's /healthz and exits 0 on a 2xx answer
// (the container image's HEALTHCHECK, which has no curl), logged in when it is protected.

import { type CommandSpec, PROGRAM, readCommandLine } from "../cli/command_line.ts";
import { type FlagSpec, HELP_FLAG } from "../cli/flags.ts";
import { renderUsage } from "../cli/usage.ts";
import { EXIT } from "../exit_codes.ts";
import {
  DEFAULT_EXPORTER_ORIGIN,
  exporterOriginFromEnv,
  LISTEN_ENV,
  WEB_CONFIG_ENV,
} from "./_exporter_url.ts";
import { type ExporterLogin, loginClient, readExporterLogin } from "./_exporter_login.ts";

/** The path asked on the exporter when --url is not given. */
const HEALTH_PATH = "/healthz";

/** The URL asked when neither --url nor POSE_EXPORTER_LISTEN is given: the default port, on loopback. */
export const DEFAULT_HEALTH_URL = `${DEFAULT_EXPORTER_ORIGIN}${HEALTH_PATH}`;

/** The flags of `pose-exporter healthcheck`. */
export const HEALTHCHECK_FLAGS = [
  {
    name: "url",
    kind: "url",
    arg: "URL",
    default: DEFAULT_HEALTH_URL,
    help: `the health URL; without it, ${HEALTH_PATH} where ${LISTEN_ENV} says the exporter ` +
      `listens (a wildcard host asked on loopback), over https when ${WEB_CONFIG_ENV}'s file ` +
      "turns TLS on",
  },
  {
    name: "user",
    kind: "string",
    arg: "NAME",
    env: "POSE_HEALTHCHECK_USER",
    help: "log in as this user (one of the web config's basic_auth_users)",
  },
  {
    name: "password-file",
    kind: "string",
    arg: "PATH",
    env: "POSE_HEALTHCHECK_PASSWORD_FILE",
    help: "the user's password, in a file (the web config holds only its hash)",
  },
  {
    name: "ca-file",
    kind: "string",
    arg: "PATH",
    env: "POSE_HEALTHCHECK_CA_FILE",
    help: "CA certificate(s), PEM, that verify the exporter's certificate (besides the system's)",
  },
  {
    name: "timeout-ms",
    kind: "integer",
    arg: "N",
    default: "2000",
    min: 1,
    max: 600000,
    help: "give up after N milliseconds",
  },
  HELP_FLAG,
] as const satisfies readonly FlagSpec[];

/** The settings `healthcheck` runs with. */
interface HealthcheckSettings {
  url: string;
  timeoutMs: number;
  login: ExporterLogin;
}

const HEALTHCHECK: CommandSpec<(typeof HEALTHCHECK_FLAGS)[number]["name"], HealthcheckSettings> = {
  name: "healthcheck",
  flags: HEALTHCHECK_FLAGS,
  usage: renderUsage({
    synopsis: [`${PROGRAM} healthcheck [flags]`],
    about: [
      `Asks a running exporter whether it is alive: exit ${EXIT.ok} when the URL answers 2xx, ` +
      `else exit ${EXIT.failure} with one line saying what was seen (connection refused, the ` +
      `status code, a timeout); exit ${EXIT.usage} on bad flags.`,
    ],
    flags: HEALTHCHECK_FLAGS,
    notes: [
      `Environment: ${LISTEN_ENV} (HOST:PORT) and ${WEB_CONFIG_ENV}, read as the exporter reads ` +
      "them, place the default --url, so that the check asks where and how the exporter " +
      "listens; --url wins. --user, --password-file and --ca-file can be set by " +
      "POSE_HEALTHCHECK_USER, POSE_HEALTHCHECK_PASSWORD_FILE and POSE_HEALTHCHECK_CA_FILE (for an " +
      "image's fixed HEALTHCHECK); flags win. --timeout-ms is read from the command line only.",
    ],
  }),
  read(values, env) {
    const timeoutMs = values.required("timeout-ms");
    const login = readExporterLogin(
      {
        user: values.string("user"),
        passwordFile: values.string("password-file"),
        caFile: values.string("ca-file"),
      },
      { user: "user", passwordFile: "password-file", caFile: "ca-file" },
      values.problems,
    );
    if (values.given("url")) return { url: values.url("url")?.href ?? "", timeoutMs, login };
    const origin = exporterOriginFromEnv(env, { flag: "--url", problems: values.problems });
    return { url: `${origin}${HEALTH_PATH}`, timeoutMs, login };
  },
};

/** What one probe saw. */
export interface HealthResult {
  /** Whether the URL answered 2xx. */
  ok: boolean;
  /** One line saying what was seen. */
  line: string;
}

/** The reason in a fetch error, short: "connection refused" rather than the whole chain. */
function describeFetchError(err: unknown): string {
  // Deno's fetch says "fetch failed"; the reason is in its cause.
  let message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) message = `${message}: ${cause.message}`;
  if (/connection refused/i.test(message)) return "connection refused";
  if (/UnknownIssuer|invalid peer certificate|certificate/i.test(message)) {
    const why = /invalid peer certificate: (\w+)/.exec(message)?.[1] ?? "not trusted";
    return `TLS: the exporter's certificate is not accepted (${why}): give --ca-file the CA ` +
      "that signed it, and a URL whose host the certificate names";
  }
  if (
    /HTTP\/0\.9|invalid HTTP version|InvalidContentType|corrupt message|wrong version number/i
      .test(message)
  ) {
    return "TLS mismatch: the URL's scheme does not match the server (https to a plain HTTP " +
      "port, or http to the TLS port)";
  }
  if (/dns error|failed to lookup|name or service not known/i.test(message)) {
    return "the host name does not resolve";
  }
  if (/connection reset/i.test(message)) return "connection reset";
  return (cause instanceof Error ? cause.message : message).split("\n")[0]!;
}

/**
 * Fetches `url` once, logged in with `login` when given.
 *
 * @param url the health URL
 * @param timeoutMs how long to wait for the status line
 * @param login the Authorization header and CA certificates to send with
 * @returns ok for a 2xx answer, and one line saying what was seen
 * @example
 * ```ts ignore
 * const { ok, line } = await probeHealth("http://127.0.0.1:8000/healthz", 2000);
 * ```
 */
export async function probeHealth(
  url: string,
  timeoutMs: number,
  login: ExporterLogin = { headers: {}, caCerts: [] },
): Promise<HealthResult> {
  let response: Response;
  const client = loginClient(login);
  try {
    response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
      headers: login.headers,
      ...(client ? { client } : {}),
    });
  } catch (err) {
    client?.close();
    if (err instanceof DOMException && err.name === "TimeoutError") {
      return { ok: false, line: `${url}: no answer within ${timeoutMs} ms` };
    }
    return { ok: false, line: `${url}: ${describeFetchError(err)}` };
  }
  await response.body?.cancel();
  client?.close();
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (response.ok) return { ok: true, line: `${url}: ${status}` };
  const hint = response.status !== 401
    ? ""
    : "authorization" in login.headers
    ? " (the user or password is wrong)"
    : " (the exporter asks for a login: give --user and --password-file)";
  return { ok: false, line: `${url}: answered ${status}${hint}` };
}

/**
 * `pose-exporter healthcheck [--url URL] [--timeout-ms N] [--user NAME --password-file PATH]
 * [--ca-file PATH]`.
 *
 * @param args the arguments after `healthcheck`
 * @param env the environment, for POSE_EXPORTER_LISTEN
 * @returns {@linkcode EXIT}: ok when the URL answered 2xx, failure when not, usage for bad flags
 */
export async function healthcheckCommand(
  args: string[],
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Promise<number> {
  const line = readCommandLine(HEALTHCHECK, { args, env });
  if ("exitCode" in line) return line.exitCode;
  const { url, timeoutMs, login } = line.settings;
  const { ok, line: seen } = await probeHealth(url, timeoutMs, login);
  if (ok) {
    console.log(`healthcheck: ${seen}`);
    return EXIT.ok;
  }
  console.error(`${PROGRAM} healthcheck: ${seen}`);
  return EXIT.failure;
}
