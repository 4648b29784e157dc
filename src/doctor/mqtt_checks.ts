// `doctor --mqtt URL`: the broker the exporter publishes to, check by check: it can be reached,
// it accepts the login, and a message published under the prefix comes back to a subscriber.

import { mqttJs as mqtt } from "../mqtt/mqtt_client.ts";
import type { MqttClient } from "../mqtt/mqtt_client.ts";
import { type CheckResult, fail, ok, skip } from "./check_result.ts";
import { classifyConnectError, isCertificateError } from "../mqtt/mqtt_publisher.ts";
import type { MqttUrl } from "../mqtt/mqtt_url.ts";

/** Options of {@linkcode checkMqtt}. */
export interface MqttCheckOptions {
  /** The password (from a file or the URL), or null for none. @default {null} */
  password?: string | null;
  /** CA certificates, PEM, for an mqtts broker; null: the system's store. @default {null} */
  ca?: string | null;
  /** The exporter's topic prefix; the test message goes under it. @default {"pose-exporter"} */
  prefix?: string;
  /** Deadline of each step, ms. @default {3000} */
  timeoutMs?: number;
}

/** Resolves with `work`'s value, or null after `ms`. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a TCP connection to the broker opens, and why not. */
async function reach(url: MqttUrl, timeoutMs: number): Promise<string | null> {
  try {
    const conn = await within(Deno.connect({ hostname: url.host, port: url.port }), timeoutMs);
    if (conn === null) return `no TCP answer within ${timeoutMs} ms`;
    conn.close();
    return null;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return "connection refused (nothing listens)";
    return (err as Error).message;
  }
}

/** Connects once (no retry); resolves with the client, or the error that ended the attempt. */
function connectOnce(
  url: MqttUrl,
  options: MqttCheckOptions,
  timeoutMs: number,
): Promise<{ client: MqttClient; error: Error | null }> {
  const client = mqtt.connect(url.broker, {
    clientId: `pose-exporter-doctor-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(url.username !== null ? { username: url.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  return new Promise((resolve) => {
    client.once("connect", () => resolve({ client, error: null }));
    client.once("error", (error) => resolve({ client, error }));
  });
}

/**
 * Checks the broker: reachable, login accepted, publish and receive under the prefix. A
 * later check is skipped when an earlier one failed. The password never shows.
 *
 * @example
 * ```ts
 * import { checkMqtt } from "./mqtt_checks.ts";
 * import { parseMqttUrl } from "../mqtt/mqtt_url.ts";
 * const results = await checkMqtt(parseMqttUrl("mqtt://127.0.0.1:1883"));
 * ```
 *
 * @param url the broker
 * @param options the login, the CA, the prefix and the deadline
 * @returns three results: reachable, login, publish and receive
 */
export async function checkMqtt(
  url: MqttUrl,
  options: MqttCheckOptions = {},
): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const prefix = options.prefix ?? "pose-exporter";
  const reachable = `mqtt broker ${url.display}`;
  const login = "mqtt login";
  const roundTrip = `mqtt publish and receive on ${prefix}/`;
  const unreachable = await reach(url, timeoutMs);
  if (unreachable !== null) {
    return [
      fail(
        reachable,
        `cannot be reached: ${unreachable}`,
        "start the broker, or check the host and port given to --mqtt (the exporter's --mqtt-url)",
      ),
      skip(login, "the broker cannot be reached"),
      skip(roundTrip, "the broker cannot be reached"),
    ];
  }
  const results = [ok(reachable, "accepts TCP connections")];
  const { client, error } = await connectOnce(url, options, timeoutMs);
  try {
    const who = url.username === null ? "anonymous" : `user ${JSON.stringify(url.username)}`;
    if (error !== null && classifyConnectError(error) === "tls") {
      const certificate = isCertificateError(error);
      results.push(fail(
        "mqtt tls",
        `the TLS handshake failed, so no login took place: ${error.message}`,
        certificate
          ? "give the CA that signed the broker's certificate with --mqtt-ca-file"
          : "check that the port is the broker's TLS listener (mqtts://), or use mqtt:// for a " +
            "plain one",
      ));
      results.push(skip(roundTrip, "no TLS connection"));
      return results;
    }
    if (error !== null) {
      const reason = classifyConnectError(error);
      const fix = reason === "not_authorized"
        ? "check the user in --mqtt-url and the password in --mqtt-password-file (the broker's " +
          "password_file, ACLs)"
        : "check that this is an MQTT broker (mqtt:// plain, mqtts:// TLS)";
      results.push(fail(login, `${who} refused: ${error.message}`, fix));
      results.push(skip(roundTrip, "not logged in"));
      return results;
    }
    results.push(ok(login, `${who} accepted`));
    const topic = `${prefix}/doctor/${crypto.randomUUID().slice(0, 8)}`;
    const payload = `doctor ${Date.now()}`;
    const started = performance.now();
    const received = new Promise<boolean>((resolve) => {
      client.on("message", (t, message) => {
        if (t === topic && message.toString() === payload) resolve(true);
      });
    });
    const trip = (async () => {
      const granted = await client.subscribeAsync(topic, { qos: 1 });
      if (granted.some((g) => g.qos === 128)) {
        return "the broker refused the subscription (an ACL?)";
      }
      await client.publishAsync(topic, payload, { qos: 1 });
      const back = await within(received, timeoutMs);
      return back ? "" : `the message did not come back within ${timeoutMs} ms`;
    })().catch((err: Error) => err.message);
    const problem = await within(trip, timeoutMs * 2);
    if (problem === "") {
      results.push(
        ok(roundTrip, `${topic}: came back in ${Math.round(performance.now() - started)} ms`),
      );
    } else {
      results.push(
        fail(
          roundTrip,
          `${topic}: ${problem ?? `no answer within ${timeoutMs * 2} ms`}`,
          `let ${who} publish and subscribe under ${prefix}/# (the broker's ACL file)`,
        ),
      );
    }
    return results;
  } finally {
    await within(client.endAsync(true), 1000).catch(() => {});
  }
}
