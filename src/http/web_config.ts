// The Prometheus exporter toolkit's web configuration file (--web-config-file): parsed, checked
// against what this server can honour (a key it cannot is refused, never ignored), and loaded
// with its certificate and key.

import { parse as parseYaml } from "yaml";
import { X509Certificate } from "node:crypto";
import { readFailure } from "../host/read_failure.ts";

/** A certificate chain and its key, PEM, as the TLS listener takes them. */
export interface TlsMaterial {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** Where the chain came from: its file, or "inline". */
  certSource: string;
  /** When the first certificate of the chain expires (ms since the epoch); NaN when unknown. */
  notAfter: number;
}

/** The toolkit's `rate_limit`: a token bucket over every request. */
export interface RateLimit {
  /** One token comes back every interval. */
  intervalMs: number;
  /** Tokens the bucket holds at most (a burst). */
  burst: number;
}

/** A web configuration, resolved: every field set, the certificate read. */
export interface WebSettings {
  /** The file it was read from; null when there is none (everything open, plain HTTP). */
  path: string | null;
  /** The certificate and key to serve HTTPS with; null for plain HTTP. */
  tls: TlsMaterial | null;
  /** User names with their bcrypt hashes; empty: no login asked. */
  users: ReadonlyMap<string, string>;
  /** Paths (exact) that need no login (`basic_auth_excluded_paths`). */
  excludedPaths: ReadonlySet<string>;
  /** Headers added to every answer (`http_server_config.headers`), blank ones left out. */
  headers: Readonly<Record<string, string>>;
  /** The rate limit over every request; null for none. */
  rateLimit: RateLimit | null;
  /** `http_server_config.http2: true` was written; this server speaks HTTP/1.1 (said at start). */
  http2Requested: boolean;
  /** The files this configuration came from (the file, its certificate and key files). */
  files: readonly string[];
}

/** No file: plain HTTP, no login, no extra header. */
export const OPEN_WEB_SETTINGS: WebSettings = Object.freeze({
  path: null,
  tls: null,
  users: new Map<string, string>(),
  excludedPaths: new Set<string>(),
  headers: Object.freeze({}),
  rateLimit: null,
  http2Requested: false,
  files: [],
});

/** Thrown when a web configuration file cannot be used; names the file, each key and its problem. */
export class WebConfigError extends Error {
  /** The file. */
  readonly path: string;
  /** One `KEY: PROBLEM` per problem found. */
  readonly problems: readonly string[];

  /**
   * @param path the file
   * @param problems one `KEY: PROBLEM` each
   * @param options the cause, when there is one
   */
  constructor(path: string, problems: readonly string[], options?: ErrorOptions) {
    super(`Invalid --web-config-file ${path}: ${problems.join("; ")}`, options);
    this.name = "WebConfigError";
    this.path = path;
    this.problems = [...problems];
  }
}

/** The keys of each part of the file, as the toolkit spells them. */
const TOP_KEYS = [
  "tls_server_config",
  "http_server_config",
  "basic_auth_users",
  "basic_auth_excluded_paths",
  "rate_limit",
] as const;
const TLS_KEYS = [
  "cert",
  "key",
  "client_ca",
  "cert_file",
  "key_file",
  "client_auth_type",
  "client_ca_file",
  "client_allowed_sans",
  "min_version",
  "max_version",
  "cipher_suites",
  "prefer_server_cipher_suites",
  "curve_preferences",
] as const;
const HTTP_KEYS = ["http2", "headers"] as const;
const RATE_LIMIT_KEYS = ["interval", "burst"] as const;

/** The headers the toolkit lets a file set, with the values it accepts (empty: any). */
const EXTRA_HEADERS: Record<string, readonly string[]> = {
  "Strict-Transport-Security": [],
  "X-Content-Type-Options": ["nosniff"],
  "X-Frame-Options": ["deny", "sameorigin"],
  "X-XSS-Protection": [],
  "Content-Security-Policy": [],
};

/** The toolkit's TLS version names, in order. */
const TLS_VERSIONS = ["TLS10", "TLS11", "TLS12", "TLS13"] as const;

/** What Deno's TLS server (rustls) speaks: TLS 1.2 and 1.3, no setting to narrow it. */
const DENO_TLS = "Deno's TLS server (rustls) always speaks TLS 1.2 and 1.3 and has no setting";

/** Client certificates: Deno.listenTls has no way to ask for or verify one. */
const NO_CLIENT_CERTS =
  "cannot be honoured: Deno's TLS server (Deno.listenTls) cannot request or verify client " +
  "certificates; remove it and restrict clients with basic_auth_users";

/** A bcrypt hash as htpasswd -B and the toolkit's tools write it: $2a$, $2b$ or $2y$, cost, salt+hash. */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** What to tell someone whose hash is not one. */
const MAKE_A_HASH = `make one with: htpasswd -nBC 10 "" | tr -d ':\\n'`;

type Doc = Record<string, unknown>;

function isMap(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Where a relative path in the file points: beside the file, as the toolkit resolves it. */
function besideFile(configPath: string, path: string): string {
  if (path.startsWith("/")) return path;
  const slash = configPath.lastIndexOf("/");
  return slash < 0 ? path : `${configPath.slice(0, slash + 1)}${path}`;
}

/**
 * Parses a Go duration (`1s`, `100ms`, `1m30s`, `0`), as the toolkit's `rate_limit.interval` takes
 * one; a bare integer is nanoseconds, as Go reads it.
 *
 * @returns milliseconds, or null when it is not a duration
 */
export function parseGoDuration(value: unknown): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value / 1e6 : null;
  if (typeof value !== "string") return null;
  const text = value.trim();
  if (text === "0") return 0;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const parts = [...text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return null;
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]!]!, 0);
}

/** The file's content, checked: what the loader still has to read (certificate files). */
export interface ParsedWebConfig {
  /** Where the certificate and key come from; null for plain HTTP. */
  tls: {
    cert: { inline: string } | { file: string };
    key: { inline: string } | { file: string };
  } | null;
  users: Map<string, string>;
  excludedPaths: Set<string>;
  headers: Record<string, string>;
  rateLimit: RateLimit | null;
  http2Requested: boolean;
}

/** Collects a file's problems, each as `KEY: PROBLEM`. */
class Problems {
  readonly list: string[] = [];

  add(key: string, problem: string): void {
    this.list.push(`${key}: ${problem}`);
  }

  /** The keys of `doc` outside `known`, each a problem. */
  unknownKeys(doc: Doc, known: readonly string[], prefix: string): void {
    for (const key of Object.keys(doc)) {
      if (!known.includes(key)) {
        this.add(
          `${prefix}${key}`,
          `unknown key (${prefix === "" ? "the file" : prefix.slice(0, -1)} takes ${
            known.join(", ")
          })`,
        );
      }
    }
  }

  /** A string value or null (absent or blank); a value of another type is a problem. */
  string(doc: Doc, key: string, prefix: string): string | null {
    const value = doc[key];
    if (value === undefined || value === null || value === "") return null;
    if (typeof value !== "string") {
      this.add(`${prefix}${key}`, `must be a string, not ${JSON.stringify(value)}`);
      return null;
    }
    return value;
  }

  /** A list of strings (absent: empty); anything else is a problem. */
  strings(doc: Doc, key: string, prefix: string): string[] {
    const value = doc[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
      this.add(`${prefix}${key}`, "must be a list of strings");
      return [];
    }
    return value;
  }
}

function parseTls(doc: unknown, problems: Problems): ParsedWebConfig["tls"] {
  const prefix = "tls_server_config.";
  if (doc === undefined || doc === null) return null;
  if (!isMap(doc)) {
    problems.add("tls_server_config", "must be a mapping of keys");
    return null;
  }
  problems.unknownKeys(doc, TLS_KEYS, prefix);
  const cert = problems.string(doc, "cert", prefix);
  const key = problems.string(doc, "key", prefix);
  const certFile = problems.string(doc, "cert_file", prefix);
  const keyFile = problems.string(doc, "key_file", prefix);
  // Keys that ask for what Deno's TLS server cannot do: refused, one line each.
  const clientAuth = problems.string(doc, "client_auth_type", prefix);
  if (clientAuth !== null && clientAuth !== "NoClientCert") {
    const known = [
      "NoClientCert",
      "RequestClientCert",
      "RequireAnyClientCert",
      "RequireClientCert",
      "VerifyClientCertIfGiven",
      "RequireAndVerifyClientCert",
    ];
    problems.add(
      `${prefix}client_auth_type`,
      known.includes(clientAuth)
        ? `${JSON.stringify(clientAuth)} ${NO_CLIENT_CERTS} (or set NoClientCert)`
        : `${JSON.stringify(clientAuth)} is not one of ${known.join(", ")}`,
    );
  }
  for (const name of ["client_ca_file", "client_ca"]) {
    if (problems.string(doc, name, prefix) !== null) {
      problems.add(`${prefix}${name}`, NO_CLIENT_CERTS);
    }
  }
  if (problems.strings(doc, "client_allowed_sans", prefix).length > 0) {
    problems.add(`${prefix}client_allowed_sans`, NO_CLIENT_CERTS);
  }
  const version = (name: "min_version" | "max_version") => {
    const value = problems.string(doc, name, prefix);
    if (value === null) return;
    if (!(TLS_VERSIONS as readonly string[]).includes(value)) {
      problems.add(
        `${prefix}${name}`,
        `${JSON.stringify(value)} is not one of ${TLS_VERSIONS.join(", ")}`,
      );
      return;
    }
    // A bound is honoured when what the server does stays inside it: it never goes below 1.2
    // (so a minimum of 1.0, 1.1 or 1.2 holds) and always offers 1.3 (so only a maximum of 1.3 does).
    if (name === "min_version" && value === "TLS13") {
      problems.add(
        `${prefix}min_version`,
        `"TLS13" cannot be honoured: ${DENO_TLS} to refuse 1.2; remove the key or set TLS12`,
      );
    }
    if (name === "max_version" && value !== "TLS13") {
      problems.add(
        `${prefix}max_version`,
        `${
          JSON.stringify(value)
        } cannot be honoured: ${DENO_TLS} to refuse 1.3; remove the key or set TLS13`,
      );
    }
  };
  version("min_version");
  version("max_version");
  if (problems.strings(doc, "cipher_suites", prefix).length > 0) {
    problems.add(
      `${prefix}cipher_suites`,
      "cannot be honoured: Deno's TLS server has no cipher suite setting (it uses rustls' " +
        "defaults, all AEAD with forward secrecy); remove the key",
    );
  }
  if (problems.strings(doc, "curve_preferences", prefix).length > 0) {
    problems.add(
      `${prefix}curve_preferences`,
      "cannot be honoured: Deno's TLS server has no key exchange group setting; remove the key",
    );
  }
  const prefer = doc.prefer_server_cipher_suites;
  if (prefer !== undefined && prefer !== null && typeof prefer !== "boolean") {
    problems.add(`${prefix}prefer_server_cipher_suites`, "must be true or false");
  }
  if (cert === null && key === null && certFile === null && keyFile === null) return null;
  if (cert !== null && certFile !== null) {
    problems.add(`${prefix}cert`, "give cert or cert_file, not both");
  }
  if (key !== null && keyFile !== null) {
    problems.add(`${prefix}key`, "give key or key_file, not both");
  }
  if (cert === null && certFile === null) {
    problems.add("tls_server_config", "missing one of cert or cert_file");
  }
  if (key === null && keyFile === null) {
    problems.add("tls_server_config", "missing one of key or key_file");
  }
  return {
    cert: certFile !== null ? { file: certFile } : { inline: cert ?? "" },
    key: keyFile !== null ? { file: keyFile } : { inline: key ?? "" },
  };
}

function parseHttp(
  doc: unknown,
  problems: Problems,
): { headers: Record<string, string>; http2Requested: boolean } {
  const prefix = "http_server_config.";
  const none = { headers: {}, http2Requested: false };
  if (doc === undefined || doc === null) return none;
  if (!isMap(doc)) {
    problems.add("http_server_config", "must be a mapping of keys");
    return none;
  }
  problems.unknownKeys(doc, HTTP_KEYS, prefix);
  if (doc.http2 !== undefined && doc.http2 !== null && typeof doc.http2 !== "boolean") {
    problems.add(`${prefix}http2`, "must be true or false");
  }
  const headers: Record<string, string> = {};
  const given = doc.headers;
  if (given !== undefined && given !== null && !isMap(given)) {
    problems.add(`${prefix}headers`, "must be a mapping of header names to values");
  } else if (isMap(given)) {
    for (const [name, value] of Object.entries(given)) {
      const key = `${prefix}headers.${name}`;
      const allowed = EXTRA_HEADERS[name];
      if (allowed === undefined) {
        problems.add(
          key,
          `this header can not be configured (the toolkit allows ${
            Object.keys(EXTRA_HEADERS).join(", ")
          })`,
        );
        continue;
      }
      if (value === null || value === "") continue;
      if (typeof value !== "string" || /[\r\n\0]/.test(value)) {
        problems.add(key, "must be one line of text");
        continue;
      }
      if (allowed.length > 0 && !allowed.includes(value)) {
        problems.add(key, `${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
        continue;
      }
      headers[name] = value;
    }
  }
  return { headers, http2Requested: doc.http2 === true };
}

function parseUsers(doc: unknown, problems: Problems): Map<string, string> {
  const users = new Map<string, string>();
  if (doc === undefined || doc === null) return users;
  if (!isMap(doc)) {
    problems.add("basic_auth_users", "must be a mapping of user names to bcrypt hashes");
    return users;
  }
  for (const [name, hash] of Object.entries(doc)) {
    const key = `basic_auth_users.${name}`;
    if (name === "" || name.includes(":")) {
      problems.add(
        key,
        "a user name must be non-empty and without a colon (basic auth splits at it)",
      );
      continue;
    }
    // The value is never quoted: it may be a password written by mistake.
    if (typeof hash !== "string") {
      problems.add(key, `must be a bcrypt hash (a string); ${MAKE_A_HASH}`);
      continue;
    }
    const match = BCRYPT.exec(hash);
    if (!match) {
      problems.add(
        key,
        /^\$2[a-z]?\$/.test(hash)
          ? `not a bcrypt hash this server can check ($2a$, $2b$ or $2y$, a 2-digit cost, 53 characters of salt and hash); ${MAKE_A_HASH}`
          : `not a bcrypt hash (a plain password?); the file holds only hashes: ${MAKE_A_HASH}`,
      );
      continue;
    }
    const cost = Number(match[1]);
    if (cost < 4 || cost > 31) {
      problems.add(key, `bcrypt cost ${cost} is outside 4..31; ${MAKE_A_HASH}`);
      continue;
    }
    users.set(name, hash);
  }
  return users;
}

function parseRateLimit(doc: unknown, problems: Problems): RateLimit | null {
  if (doc === undefined || doc === null) return null;
  if (!isMap(doc)) {
    problems.add("rate_limit", "must be a mapping with interval and burst");
    return null;
  }
  problems.unknownKeys(doc, RATE_LIMIT_KEYS, "rate_limit.");
  const intervalMs = doc.interval === undefined || doc.interval === null
    ? 0
    : parseGoDuration(doc.interval);
  if (intervalMs === null) {
    problems.add(
      "rate_limit.interval",
      `${JSON.stringify(doc.interval)} is not a duration such as 1s or 100ms`,
    );
    return null;
  }
  const burst = doc.burst;
  if (
    burst !== undefined && burst !== null && !(Number.isInteger(burst) && (burst as number) >= 0)
  ) {
    problems.add("rate_limit.burst", `${JSON.stringify(burst)} is not a whole number >= 0`);
    return null;
  }
  if (intervalMs === 0) {
    if (typeof burst === "number" && burst > 0) {
      problems.add(
        "rate_limit.burst",
        "given without an interval: the rate limit is off with interval 0",
      );
    }
    return null;
  }
  if (typeof burst !== "number" || burst < 1) {
    problems.add(
      "rate_limit.burst",
      "must be at least 1 when an interval is set (with 0 no request would ever pass)",
    );
    return null;
  }
  return { intervalMs, burst };
}

/**
 * Parses and checks a web configuration file's text (no file is read: certificate files are
 * named, not opened). Every problem is collected.
 *
 * @example
 * ```ts
 * const parsed = parseWebConfig("basic_auth_users:\n  prometheus: $2y$10$...\n", "web.yml");
 * ```
 *
 * @param text the file's content
 * @param path the file, for messages and to resolve relative paths beside it
 * @returns what the file asks for, certificate files resolved beside it
 * @throws {WebConfigError} naming the file, each bad key and its problem
 */
export function parseWebConfig(text: string, path: string): ParsedWebConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new WebConfigError(path, [
      `the file is not YAML: ${(err as Error).message.split("\n")[0]}`,
    ], { cause: err });
  }
  const problems = new Problems();
  if (doc !== undefined && doc !== null && !isMap(doc)) {
    throw new WebConfigError(path, ["the file must be a YAML mapping of keys"]);
  }
  const root: Doc = isMap(doc) ? doc : {};
  problems.unknownKeys(root, TOP_KEYS, "");
  const tls = parseTls(root.tls_server_config, problems);
  const http = parseHttp(root.http_server_config, problems);
  const users = parseUsers(root.basic_auth_users, problems);
  const excluded = problems.strings(root, "basic_auth_excluded_paths", "");
  for (const p of excluded) {
    if (!p.startsWith("/")) {
      problems.add(
        "basic_auth_excluded_paths",
        `${JSON.stringify(p)} is not a path (it starts with /)`,
      );
    }
  }
  const rateLimit = parseRateLimit(root.rate_limit, problems);
  if (problems.list.length > 0) throw new WebConfigError(path, problems.list);
  if (tls !== null) {
    for (const part of [tls.cert, tls.key]) {
      if ("file" in part) part.file = besideFile(path, part.file);
    }
  }
  return {
    tls,
    users,
    excludedPaths: new Set(excluded),
    headers: http.headers,
    rateLimit,
    http2Requested: http.http2Requested,
  };
}

/** Reads one PEM part, from its file or inline. */
function readPart(
  part: { inline: string } | { file: string },
  key: string,
  problems: Problems,
): string {
  if ("inline" in part) return part.inline;
  try {
    return Deno.readTextFileSync(part.file);
  } catch (err) {
    problems.add(
      `tls_server_config.${key}_file`,
      `cannot read ${JSON.stringify(part.file)}: ${readFailure(err)}`,
    );
    return "";
  }
}

/**
 * Checks that `cert` and `key` make a TLS server, the way the server will use them: a listener on
 * an ephemeral loopback port, closed at once. Returns the problem, or null.
 */
function checkKeyPair(cert: string, key: string): string | null {
  let listener: Deno.TlsListener;
  try {
    listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  } catch (err) {
    // Only the material's faults count; a host without loopback cannot check here.
    if (
      err instanceof Deno.errors.AddrInUse || err instanceof Deno.errors.AddrNotAvailable ||
      err instanceof Deno.errors.PermissionDenied
    ) return null;
    return (err as Error).message;
  }
  listener.close();
  return null;
}

/** When the chain's first certificate expires, or NaN. */
function notAfterOf(cert: string): number {
  try {
    return Date.parse(new X509Certificate(cert).validTo);
  } catch {
    return NaN;
  }
}

/**
 * Reads, checks and loads a web configuration file with its certificate and key.
 *
 * @example
 * ```ts ignore
 * const settings = loadWebConfig("/etc/pose-exporter/web-config.yml");
 * if (settings.tls) console.log("HTTPS", new Date(settings.tls.notAfter));
 * ```
 *
 * @param path the file
 * @returns the settings, ready to serve with
 * @throws {WebConfigError} naming the file, each bad key and its problem (a certificate that
 *   cannot be read or does not fit its key included)
 */
export function loadWebConfig(path: string): WebSettings {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new WebConfigError(path, [`the file cannot be read: ${readFailure(err)}`], {
      cause: err,
    });
  }
  const parsed = parseWebConfig(text, path);
  const files = [path];
  let tls: TlsMaterial | null = null;
  if (parsed.tls !== null) {
    const problems = new Problems();
    const cert = readPart(parsed.tls.cert, "cert", problems);
    const key = readPart(parsed.tls.key, "key", problems);
    for (const part of [parsed.tls.cert, parsed.tls.key]) if ("file" in part) files.push(part.file);
    if (problems.list.length === 0) {
      const certKey = "file" in parsed.tls.cert ? "cert_file" : "cert";
      const keyKey = "file" in parsed.tls.key ? "key_file" : "key";
      const problem = checkKeyPair(cert, key);
      if (problem !== null) {
        problems.add(
          `tls_server_config.${certKey}, ${keyKey}`,
          `not a usable certificate and key: ${problem}`,
        );
      }
    }
    if (problems.list.length > 0) throw new WebConfigError(path, problems.list);
    tls = {
      cert,
      key,
      certSource: "file" in parsed.tls.cert ? parsed.tls.cert.file : "inline",
      notAfter: notAfterOf(cert),
    };
  }
  return {
    path,
    tls,
    users: parsed.users,
    excludedPaths: parsed.excludedPaths,
    headers: parsed.headers,
    rateLimit: parsed.rateLimit,
    http2Requested: parsed.http2Requested,
    files,
  };
}

/**
 * Whether two settings serve TLS with the same certificate and key (no listener restart needed).
 *
 * @param a one
 * @param b the other
 * @returns true when both are plain HTTP or both carry the same PEM text
 */
export function sameTls(a: WebSettings, b: WebSettings): boolean {
  if (a.tls === null || b.tls === null) return a.tls === b.tls;
  return a.tls.cert === b.tls.cert && a.tls.key === b.tls.key;
}
