// The MQTT broker's URL: mqtt:// or mqtts://, an optional user (and password), host and port;
// parsed once, and written everywhere (logs, metrics, doctor, errors) without its password.

/** A broker address as the publisher and `doctor --mqtt` use it. */
export interface MqttUrl {
  /** `mqtt` (plain TCP) or `mqtts` (TLS). */
  scheme: "mqtt" | "mqtts";
  /** Host name or address (IPv6 without brackets). */
  host: string;
  /** TCP port: the URL's, else 1883 (mqtt) or 8883 (mqtts). */
  port: number;
  /** The user in the URL, or null. */
  username: string | null;
  /** The password in the URL, or null (it may come from --mqtt-password-file instead). */
  password: string | null;
  /** `scheme://[user@]host:port`: never the password; what logs, errors and doctor show. */
  display: string;
  /** `scheme://host:port`: what the client connects to (the login goes in its options). */
  broker: string;
}

/** The schemes a broker URL may have. */
export const MQTT_SCHEMES = ["mqtt", "mqtts"] as const;

/** Thrown when a broker URL cannot be used; the message names it, its password left out. */
export class MqttUrlError extends Error {
  /** The URL as given, its password replaced by `***`. */
  readonly url: string;

  /**
   * @param url the URL as given, redacted
   * @param reason what is wrong with it
   */
  constructor(url: string, reason: string) {
    super(`Invalid MQTT broker URL ${JSON.stringify(url)}: ${reason}`);
    this.name = "MqttUrlError";
    this.url = url;
  }
}

/** A scheme's `scheme://`, where a URL starts in a text. */
const URL_START = /[A-Za-z][A-Za-z0-9+.-]*:\/\//g;

/**
 * A text with the password of every URL in it replaced by `***`, for messages about a URL that
 * may not even parse: everything between the first `:` after `scheme://` and the last `@` of
 * the URL (up to a space or a quote) goes, whatever it holds (`/`, `@`, bad `%` escapes).
 *
 * @example
 * ```ts
 * import { redactUrlText } from "./mqtt_url.ts";
 * redactUrlText("mqtt://cam:top/secret@h/x"); // "mqtt://cam:***@h/x"
 * ```
 *
 * @param text a URL as given, or a message that may hold one
 * @returns the same text without any password
 */
export function redactUrlText(text: string): string {
  let out = "";
  let from = 0;
  for (const match of text.matchAll(URL_START)) {
    const start = match.index + match[0].length;
    if (start <= from) continue;
    const rest = text.slice(start);
    const end = start + (/["'\s]/.exec(rest)?.index ?? rest.length);
    const url = text.slice(start, end);
    const at = url.lastIndexOf("@");
    const colon = url.indexOf(":");
    out += text.slice(from, start);
    out += at > 0 && colon >= 0 && colon < at ? `${url.slice(0, colon)}:***${url.slice(at)}` : url;
    from = end;
  }
  return out + text.slice(from);
}

/** Percent-decodes a URL's user or password; null when its escapes are bad. */
function decoded(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/**
 * Parses `mqtt://[user[:password]@]host[:port]` or `mqtts://...`.
 *
 * @example
 * ```ts
 * import { parseMqttUrl } from "./mqtt_url.ts";
 * const url = parseMqttUrl("mqtt://cam:secret@10.0.0.2");
 * // url.display: "mqtt://cam@10.0.0.2:1883", url.password: "secret"
 * ```
 *
 * @param text the URL
 * @returns its parts
 * @throws {MqttUrlError} naming the URL (without its password) for an unknown scheme, a
 *   missing host, a bad port, a path, query or fragment, a bad percent escape in the user or
 *   password, or a password without a user
 */
export function parseMqttUrl(text: string): MqttUrl {
  const shown = redactUrlText(text);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new MqttUrlError(shown, "it is not a URL (mqtt://HOST[:PORT] or mqtts://HOST[:PORT])");
  }
  if (!(MQTT_SCHEMES as readonly string[]).includes(scheme)) {
    throw new MqttUrlError(
      shown,
      `unknown scheme ${JSON.stringify(scheme)} (use mqtt:// or mqtts:// for TLS)`,
    );
  }
  let url: URL;
  try {
    // URL parses special schemes only; as http(s) it checks the host and port the same way.
    url = new URL(text.replace(/^[^:]+:/, scheme === "mqtt" ? "http:" : "https:"));
  } catch {
    const port = /^[^:]+:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*):(\d+)\/?$/.exec(text)?.[1];
    if (port !== undefined && Number(port) > 65535) {
      throw new MqttUrlError(shown, `port ${port} is not in 1..65535`);
    }
    throw new MqttUrlError(shown, "it does not parse as scheme://[user@]host[:port]");
  }
  if (url.hostname === "") throw new MqttUrlError(shown, "it has no host");
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw new MqttUrlError(shown, "it has a path, query or fragment (give only the broker)");
  }
  const port = url.port === "" ? (scheme === "mqtt" ? 1883 : 8883) : Number(url.port);
  if (port === 0) throw new MqttUrlError(shown, "port 0 is not a broker's port");
  const username = url.username === "" ? null : decoded(url.username);
  const password = url.password === "" ? null : decoded(url.password);
  if (username === null && url.username !== "" || password === null && url.password !== "") {
    throw new MqttUrlError(
      shown,
      "its user or password is not valid percent-encoding (write % as %25)",
    );
  }
  if (username === null && password !== null) {
    throw new MqttUrlError(
      shown,
      "it has a password but no user (mqtt://USER:PASSWORD@HOST, or USER@ and " +
        "--mqtt-password-file)",
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    scheme: scheme as MqttUrl["scheme"],
    host,
    port,
    username,
    password,
    display: `${scheme}://${username === null ? "" : `${url.username}@`}${hostPart}:${port}`,
    broker: `${scheme}://${hostPart}:${port}`,
  };
}
