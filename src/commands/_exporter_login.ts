// How a command logs in to a protected exporter: a user and a password file for basic auth (the
// web config file holds only hashes), and a CA file that verifies its certificate.

import { readFailure } from "../host/read_failure.ts";

/** What a command sends to a protected exporter. */
export interface ExporterLogin {
  /** The `Authorization` header, or none. */
  headers: Record<string, string>;
  /** The CA certificates (PEM) that verify the exporter's certificate, besides the system's. */
  caCerts: string[];
}

/** The flag names a command gives these settings, for messages. */
export interface ExporterLoginFlags {
  user: string;
  passwordFile: string;
  caFile: string;
}

/** The values given, null where not. */
export interface ExporterLoginValues {
  user: string | null;
  passwordFile: string | null;
  caFile: string | null;
}

/** Reads a file whole, or adds `Invalid --flag: cannot read "path": why` and returns null. */
function readFile(path: string, flag: string, problems: string[]): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    problems.push(`Invalid --${flag}: cannot read ${JSON.stringify(path)}: ${readFailure(err)}`);
    return null;
  }
}

/**
 * Reads the login settings: the password from its file (surrounding whitespace trimmed, as
 * Prometheus reads a `password_file`), the CA file's certificates. A user without a password file
 * (or the other way round) is a problem.
 *
 * @param values the flags' values
 * @param flags their names, for messages
 * @param problems where problems are added
 * @returns the header and certificates to send with
 */
export function readExporterLogin(
  values: ExporterLoginValues,
  flags: ExporterLoginFlags,
  problems: string[],
): ExporterLogin {
  const login: ExporterLogin = { headers: {}, caCerts: [] };
  if ((values.user === null) !== (values.passwordFile === null)) {
    problems.push(`Flags --${flags.user} and --${flags.passwordFile} go together: give both`);
  } else if (values.user !== null && values.passwordFile !== null) {
    const password = readFile(values.passwordFile, flags.passwordFile, problems)?.trim();
    if (password !== undefined) {
      const bytes = new TextEncoder().encode(`${values.user}:${password}`);
      login.headers.authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
    }
  }
  if (values.caFile !== null) {
    const pem = readFile(values.caFile, flags.caFile, problems);
    if (pem !== null && !pem.includes("-----BEGIN CERTIFICATE-----")) {
      problems.push(
        `Invalid --${flags.caFile}: ${JSON.stringify(values.caFile)} holds no PEM certificate`,
      );
    } else if (pem !== null) {
      login.caCerts.push(pem);
    }
  }
  return login;
}

/**
 * An HTTP client that trusts `login`'s CA certificates, or null when there are none (the
 * default client then serves). Close it when done.
 *
 * @param login the settings
 * @returns the client, or null
 */
export function loginClient(login: ExporterLogin): Deno.HttpClient | null {
  return login.caCerts.length === 0 ? null : Deno.createHttpClient({ caCerts: login.caCerts });
}
