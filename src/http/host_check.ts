// The guard against DNS rebinding: the Host a browser sends must name this machine (its addresses
// and names, localhost, host.docker.internal) or one of --web-allowed-hosts.

/** Options of {@linkcode HostCheck}. */
export interface HostCheckOptions {
  /** The address the exporter listens on (`0.0.0.0`, `::`, or one address). */
  listenHostname: string;
  /** More names (or addresses) to allow (--web-allowed-hosts); `*` allows any Host. @default {[]} */
  allowedHosts?: readonly string[];
  /** This machine's addresses. @default {Deno.networkInterfaces()' addresses} */
  addresses?: () => string[];
  /** This machine's name. @default {Deno.hostname()} */
  hostname?: () => string;
  /** How long the machine's addresses and name are kept before they are read again. @default {10000} */
  refreshMs?: number;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/** Names every machine answers to. */
const ALWAYS = ["localhost", "host.docker.internal", "127.0.0.1", "::1"];

/**
 * Reads a Host header's host: lower case, without the port, the brackets of an IPv6 address or a
 * final dot.
 *
 * @param host the header (`example.com:8000`, `[::1]:8000`, `10.0.0.5`)
 * @returns the host, or null when the header is absent or malformed
 */
export function hostOf(host: string | null): string | null {
  if (host === null) return null;
  const text = host.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+(?:%[\w.-]+)?)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const plain = /^([a-z0-9_.-]+?)\.?(?::\d{1,5})?$/.exec(text);
  return plain ? plain[1]! : null;
}

/**
 * Whether a request comes from a browser: browsers send `Origin` on cross-origin and unsafe
 * requests and `Sec-Fetch-*` on every request; curl, Prometheus and the kubelet send neither.
 *
 * @param headers the request's headers
 * @returns true when it carries either
 */
export function isBrowserRequest(headers: Headers): boolean {
  if (headers.has("origin")) return true;
  for (const name of headers.keys()) if (name.startsWith("sec-fetch-")) return true;
  return false;
}

/**
 * Says whether a Host names this exporter. A web page that rebinds its own domain to this
 * machine (DNS rebinding) sends its domain as Host: refused, so it reads nothing.
 */
export class HostCheck {
  #options: HostCheckOptions;
  #fixed: Set<string>;
  #any: boolean;
  #machine: Set<string> = new Set();
  #readAt = -Infinity;
  #now: () => number;

  constructor(options: HostCheckOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    const allowed = (options.allowedHosts ?? []).map((h) => h.toLowerCase().replace(/\.$/, ""));
    this.#any = allowed.includes("*");
    this.#fixed = new Set([...ALWAYS, ...allowed.map((h) => h.replace(/^\[|\]$/g, ""))]);
    const listen = options.listenHostname.toLowerCase();
    if (listen !== "" && listen !== "0.0.0.0" && listen !== "::") this.#fixed.add(listen);
  }

  /** Whether every Host is allowed (`--web-allowed-hosts '*'`). */
  get allowsAny(): boolean {
    return this.#any;
  }

  /**
   * Whether `host` (a Host header, or an Origin's host) names this machine or an allowed host.
   *
   * @param host the header's value, port and all
   * @returns true when allowed
   */
  allows(host: string | null): boolean {
    if (this.#any) return true;
    const name = hostOf(host);
    if (name === null) return false;
    if (this.#fixed.has(name) || name.endsWith(".localhost")) return true;
    // The whole loopback range: no page can rebind to an address typed as such.
    if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return true;
    return this.#machineNames().has(name);
  }

  /** This machine's addresses and name, read again every `refreshMs` (an address may change). */
  #machineNames(): Set<string> {
    const now = this.#now();
    if (now - this.#readAt < (this.#options.refreshMs ?? 10_000)) return this.#machine;
    this.#readAt = now;
    const names = new Set<string>();
    try {
      const addresses = this.#options.addresses ??
        (() => Deno.networkInterfaces().map((i) => i.address));
      for (const address of addresses()) names.add(address.toLowerCase().replace(/%.*$/, ""));
    } catch {
      // No permission to list them: the fixed names still apply.
    }
    try {
      const hostname = (this.#options.hostname ?? (() => Deno.hostname()))().toLowerCase();
      if (hostname !== "") {
        names.add(hostname);
        names.add(hostname.split(".")[0]!);
      }
    } catch {
      // As above.
    }
    this.#machine = names;
    return names;
  }
}
