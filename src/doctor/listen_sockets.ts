// The TCP sockets listening on this host, from /proc/net/tcp and /proc/net/tcp6 (Linux).

/** A listening socket: local address and port. */
export interface ListenSocket {
  /** `0.0.0.0`, `127.0.0.1`, `::`, `::1`, `::ffff:127.0.0.1`, ... */
  readonly address: string;
  readonly port: number;
}

/** The `st` column's value for a listening socket. */
const TCP_LISTEN = "0A";

function ipv4FromHex(hex: string): string {
  // /proc prints the address as a host-order (little-endian) 32-bit word.
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return bytes.reverse().join(".");
}

function ipv6FromHex(hex: string): string {
  // Four 32-bit words, each in host order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i]! * 256 + bytes[i + 1]!);
  // Compress the longest run of zero groups, as RFC 5952 writes it.
  let bestStart = -1, bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i > 1) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hexGroups = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hexGroups.join(":");
  const head = hexGroups.slice(0, bestStart).join(":");
  const tail = hexGroups.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/**
 * Reads the listening sockets out of the text of /proc/net/tcp or /proc/net/tcp6.
 *
 * @example
 * ```ts
 * parseProcNetTcp("  sl  local_address ...\n   0: 0100007F:1F40 00000000:0000 0A ...", false);
 * // [{ address: "127.0.0.1", port: 8000 }]
 * ```
 *
 * @param text the file's text
 * @param ipv6 whether it is tcp6
 * @returns the sockets in LISTEN state
 */
export function parseProcNetTcp(text: string, ipv6: boolean): ListenSocket[] {
  const sockets: ListenSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (fields[3] !== TCP_LISTEN || local === undefined) continue;
    const [hexAddress, hexPort] = local.split(":");
    if (hexAddress === undefined || hexPort === undefined) continue;
    if (hexAddress.length !== (ipv6 ? 32 : 8)) continue;
    sockets.push({
      address: ipv6 ? ipv6FromHex(hexAddress) : ipv4FromHex(hexAddress),
      port: parseInt(hexPort, 16),
    });
  }
  return sockets;
}

/** Where the sockets came from, or why they could not be read. */
export type ListenSocketsRead =
  | { readonly sockets: ListenSocket[]; readonly reason: "" }
  | { readonly sockets: null; readonly reason: string };

const decoder = new TextDecoder();

/**
 * Reads a /proc file. Deno 2 lets only --allow-all read /proc/net; without it the file is read
 * through `cat` where --allow-run=cat is granted.
 *
 * @param path the file
 * @returns its text, "denied" when neither way is granted, or null when it is missing
 */
export async function readProcFile(path: string): Promise<string | "denied" | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (!(err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied)) {
      throw err;
    }
  }
  if (Deno.permissions.querySync({ name: "run", command: "cat" }).state !== "granted") {
    return "denied";
  }
  try {
    const out = await new Deno.Command("cat", {
      args: [path],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? decoder.decode(out.stdout) : null;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * The listening TCP sockets of this host's network namespace, or why they cannot be read.
 *
 * @param procRoot where proc is mounted
 * @returns the sockets, IPv4 then IPv6, or the reason
 */
export async function readListenSockets(procRoot = "/proc"): Promise<ListenSocketsRead> {
  const sockets: ListenSocket[] = [];
  let read = 0;
  for (const [file, ipv6] of [["tcp", false], ["tcp6", true]] as const) {
    const text = await readProcFile(`${procRoot}/net/${file}`);
    if (text === "denied") {
      return {
        sockets: null,
        reason:
          `${procRoot}/net/${file} cannot be read: Deno lets only --allow-all read it, or cat with --allow-run=cat`,
      };
    }
    if (text === null) continue;
    sockets.push(...parseProcNetTcp(text, ipv6));
    read++;
  }
  return read > 0
    ? { sockets, reason: "" }
    : { sockets: null, reason: `${procRoot}/net/tcp is missing (not Linux?)` };
}

/**
 * Whether an address is a loopback one (127.0.0.0/8, ::1, or IPv4-mapped loopback).
 *
 * @param address an IP address as text
 * @returns true for loopback
 */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  return /^127\./.test(bare) || bare === "::1" || /^::ffff:127\./i.test(bare);
}

/**
 * Whether an address listens on every interface (0.0.0.0 or ::).
 *
 * @param address an IP address as text
 * @returns true for a wildcard
 */
export function isWildcardAddress(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

/**
 * Whether a host name or address means this host's loopback (`localhost`, 127.x, ::1).
 *
 * @param host a URL's hostname
 * @returns true for loopback
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare.endsWith(".localhost") || isLoopbackAddress(bare);
}
