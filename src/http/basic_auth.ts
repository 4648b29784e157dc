// HTTP basic authentication against bcrypt hashes (the toolkit's basic_auth_users): successful
// checks cached by a hash of user, password and bcrypt hash, every comparison constant-time.

import bcrypt from "bcryptjs";
import { createHash } from "node:crypto";

/** What a check of one request's credentials came to. */
export type AuthOutcome = "ok" | "denied" | "busy";

/** Options of {@linkcode BasicAuth}. */
export interface BasicAuthOptions {
  /** Successful checks remembered at most (the oldest goes first). @default {100} */
  cacheSize?: number;
  /** bcrypt checks that may wait at once; more are answered "busy". @default {16} */
  maxWaiting?: number;
  /** Checks a password against a bcrypt hash. @default {bcryptjs' compare} */
  compare?: (password: string, hash: string) => Promise<boolean>;
  /** Makes a bcrypt hash at a cost (the stand-in for unknown users). @default {bcryptjs' hash} */
  hash?: (password: string, cost: number) => Promise<string>;
}

/** SHA-256 of `text` (UTF-8). */
function sha256(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(text, "utf8").digest());
}

/**
 * Compares two byte strings in time that depends only on their lengths.
 *
 * @param a one
 * @param b the other
 * @returns whether they are equal
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * Reads `Authorization: Basic base64(user:password)`.
 *
 * @param header the header's value
 * @returns the user and password, or null when the header is absent or not basic auth
 */
export function parseBasicAuth(header: string | null): { user: string; password: string } | null {
  if (header === null) return null;
  const match = /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
  if (!match) return null;
  let text: string;
  try {
    const bytes = Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The cost of a bcrypt hash (`$2y$10$...` -> 10). */
function costOf(hash: string): number {
  return Number(hash.slice(4, 6));
}

/**
 * Checks basic auth credentials against bcrypt hashes. A bcrypt check costs tens of milliseconds,
 * so a successful one is remembered (keyed by SHA-256 of user, hash and password: a changed hash or
 * password misses) and a scrape with the same credentials costs a hash, not a bcrypt run. Checks
 * run one at a time (bcrypt is CPU work; at most `maxWaiting` wait, more are "busy"); an unknown
 * user is checked against a stand-in hash of the same cost, so that timing does not tell which
 * users exist; user names are compared constant-time, as bcrypt compares hashes.
 *
 * @example
 * ```ts ignore
 * const auth = new BasicAuth();
 * const outcome = await auth.check(request.headers.get("authorization"), settings.users);
 * if (outcome !== "ok") return new Response("unauthorized\n", { status: 401 });
 * ```
 */
export class BasicAuth {
  #cache = new Map<string, true>();
  #cacheSize: number;
  #maxWaiting: number;
  #waiting = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #compare: (password: string, hash: string) => Promise<boolean>;
  #hash: (password: string, cost: number) => Promise<string>;
  /** Digests of each users table's names, made once per table. */
  #names = new WeakMap<ReadonlyMap<string, string>, [Uint8Array, string][]>();
  /** A stand-in hash per cost, for unknown users. */
  #standIns = new Map<number, Promise<string>>();
  /** bcrypt checks run so far (cache misses), for tests and the benchmark. */
  bcryptRuns = 0;

  constructor(options: BasicAuthOptions = {}) {
    this.#cacheSize = options.cacheSize ?? 100;
    this.#maxWaiting = options.maxWaiting ?? 16;
    this.#compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
    this.#hash = options.hash ?? ((password, cost) => bcrypt.hash(password, cost));
  }

  /** Successful checks remembered now. */
  get cached(): number {
    return this.#cache.size;
  }

  /**
   * Checks an `Authorization` header against `users`.
   *
   * @param header the request's Authorization header
   * @param users user names with their bcrypt hashes
   * @returns "ok" for a known user with the right password, "busy" when too many checks wait,
   *   else "denied"
   */
  async check(header: string | null, users: ReadonlyMap<string, string>): Promise<AuthOutcome> {
    const credentials = parseBasicAuth(header);
    if (credentials === null || users.size === 0) return "denied";
    const { user, password } = credentials;
    const found = this.#lookUp(user, users);
    const hash = found ?? await this.#standIn(costOf(users.values().next().value!));
    const key = createHash("sha256").update(`${user.length}:${user}${hash}${password}`, "utf8")
      .digest("hex");
    if (found !== null && this.#cache.has(key)) return "ok";
    if (this.#waiting >= this.#maxWaiting) return "busy";
    this.#waiting++;
    const run = this.#queue.then(() => this.#compare(password, hash));
    this.#queue = run.catch(() => false);
    let match = false;
    try {
      this.bcryptRuns++;
      match = await run;
    } catch {
      match = false;
    } finally {
      this.#waiting--;
    }
    if (!match || found === null) return "denied";
    this.#cache.delete(key);
    this.#cache.set(key, true);
    while (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return "ok";
  }

  /** The hash of `user`, comparing every name's digest without stopping early; null if none. */
  #lookUp(user: string, users: ReadonlyMap<string, string>): string | null {
    let names = this.#names.get(users);
    if (names === undefined) {
      names = [...users].map(([name, hash]) => [sha256(name), hash]);
      this.#names.set(users, names);
    }
    const digest = sha256(user);
    let found: string | null = null;
    for (const [name, hash] of names) {
      if (timingSafeEqual(name, digest)) found = hash;
    }
    return found;
  }

  /** A hash of a random password at `cost`, made once per cost. */
  #standIn(cost: number): Promise<string> {
    let standIn = this.#standIns.get(cost);
    if (standIn === undefined) {
      standIn = this.#hash(crypto.randomUUID(), cost);
      this.#standIns.set(cost, standIn);
    }
    return standIn;
  }
}
