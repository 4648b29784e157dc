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

/**
 * A URL's text with any password after `user:` replaced by `***`, for messages about a URL
 * that may not even parse.
 *
 * @param text a URL as given
 * @returns the same text without its password
 */
export function redactUrlText(text: string): string {
  return text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/, "$1:***@");
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
 *   missing host, a bad port, or a path, query or fragment
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
    throw new MqttUrlError(shown, "it does not parse as scheme://[user@]host[:port]");
  }
  if (url.hostname === "") throw new MqttUrlError(shown, "it has no host");
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw new MqttUrlError(shown, "it has a path, query or fragment (give only the broker)");
  }
  const port = url.port === "" ? (scheme === "mqtt" ? 1883 : 8883) : Number(url.port);
  if (port === 0) throw new MqttUrlError(shown, "port 0 is not a broker's port");
  const username = url.username === "" ? null : decodeURIComponent(url.username);
  const password = url.password === "" ? null : decodeURIComponent(url.password);
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
