// This host's names and addresses, to tell whether a Prometheus target names the exporter checked.

import { isLoopbackHost, isWildcardAddress, readProcFile } from "./listen_sockets.ts";

/** This host's own names and interface addresses. */
export interface ThisHost {
  /** Host names, lower case (the kernel's hostname, with and without its domain). */
  readonly names: ReadonlySet<string>;
  /** Interface addresses, as URLs and /proc write them (`192.168.1.5`, `fe80::1`). */
  readonly addresses: ReadonlySet<string>;
}

/** Names that mean the host itself from a container on it (Docker Desktop, host-gateway). */
const HOST_ALIASES = new Set(["host.docker.internal", "gateway.docker.internal"]);

function bare(host: string): string {
  return host.replace(/^\[|\]$/g, "").replace(/^::ffff:(?=\d+\.)/i, "").toLowerCase();
}

/**
 * Reads the local addresses out of /proc/net/fib_trie: each address followed by `/32 host LOCAL`.
 *
 * @param text the file's text
 * @returns the IPv4 addresses of this host's interfaces
 */
export function parseFibTrieLocal(text: string): string[] {
  const found = new Set<string>();
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    if (!/^\s*\/32 host LOCAL\b/.test(lines[i]!)) continue;
    const address = /(\d+\.\d+\.\d+\.\d+)\s*$/.exec(lines[i - 1]!)?.[1];
    if (address !== undefined) found.add(address);
  }
  return [...found];
}

/**
 * Reads the addresses out of /proc/net/if_inet6 (32 hex digits, network order, per line).
 *
 * @param text the file's text
 * @returns the IPv6 addresses of this host's interfaces, lower case, zero groups not compressed
 */
export function parseIfInet6(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split("\n")) {
    const hex = line.trim().split(/\s+/)[0] ?? "";
    if (!/^[0-9a-f]{32}$/i.test(hex)) continue;
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16).toString(16));
    found.push(groups.join(":").toLowerCase());
  }
  return found;
}

/** Writes an IPv6 address with every group, so that two spellings compare equal. */
function expandIpv6(address: string): string {
  if (!address.includes(":") || /\d+\.\d+\.\d+\.\d+$/.test(address)) return address;
  const [head = "", tail = ""] = address.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = address.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const zeros = address.includes("::") ? Array(8 - h.length - t.length).fill("0") : [];
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16).toString(16)).join(":");
}

/**
 * This host's names and interface addresses: from Deno.networkInterfaces() and Deno.hostname()
 * where --allow-sys grants them, else from /proc (Linux). What cannot be read is left out.
 *
 * @param procRoot where proc is mounted
 * @returns the names and addresses
 */
export async function readThisHost(procRoot = "/proc"): Promise<ThisHost> {
  const names = new Set<string>();
  const addresses = new Set<string>();
  const granted = (kind: "networkInterfaces" | "hostname") =>
    Deno.permissions.querySync({ name: "sys", kind }).state === "granted";
  if (granted("networkInterfaces")) {
    for (const i of Deno.networkInterfaces()) addresses.add(expandIpv6(bare(i.address)));
  } else {
    const fib = await readProcFile(`${procRoot}/net/fib_trie`);
    if (typeof fib === "string" && fib !== "denied") {
      for (const a of parseFibTrieLocal(fib)) addresses.add(a);
    }
    const inet6 = await readProcFile(`${procRoot}/net/if_inet6`);
    if (typeof inet6 === "string" && inet6 !== "denied") {
      for (const a of parseIfInet6(inet6)) addresses.add(a);
    }
  }
  let hostname = "";
  if (granted("hostname")) {
    hostname = Deno.hostname();
  } else {
    const text = await readProcFile(`${procRoot}/sys/kernel/hostname`);
    if (typeof text === "string" && text !== "denied") hostname = text.trim();
  }
  if (hostname !== "") {
    names.add(hostname.toLowerCase());
    names.add(hostname.toLowerCase().split(".")[0]!);
  }
  return { names, addresses };
}

/**
 * Whether a host name or address means this host: a wildcard (0.0.0.0, ::), loopback (localhost,
 * 127.x, ::1), host.docker.internal, or one of this host's own names and addresses.
 *
 * @param host a URL's hostname or a target's host
 * @param local this host's names and addresses
 * @returns true when it is this host
 */
export function isThisHost(host: string, local: ThisHost): boolean {
  const h = bare(host);
  return isWildcardAddress(h) || isLoopbackHost(h) || HOST_ALIASES.has(h) ||
    local.names.has(h) || local.addresses.has(expandIpv6(h)) || local.addresses.has(h);
}

/**
 * Whether a Prometheus target scrapes the exporter checked: the same host and port, or the same
 * port on a name or address of this host while the exporter's URL names this host too.
 *
 * @param target the target's host and port
 * @param exporter the exporter's URL hostname and port
 * @param local this host's names and addresses
 * @returns true when the target is the exporter
 */
export function scrapesExporter(
  target: { readonly host: string; readonly port: number },
  exporter: { readonly host: string; readonly port: number },
  local: ThisHost,
): boolean {
  if (target.port !== exporter.port) return false;
  if (expandIpv6(bare(target.host)) === expandIpv6(bare(exporter.host))) return true;
  return isThisHost(target.host, local) && isThisHost(exporter.host, local);
}
