// The --mqtt-* flags and the configuration slice they resolve into (config.ts lists the flags
// among the exporter's), and the reading of the files they name, at start.

import type { FlagSpec, FlagValues } from "../cli/flags.ts";
import { readFailure } from "../host/read_failure.ts";
import { type MqttUrl, MqttUrlError, parseMqttUrl } from "./mqtt_url.ts";

/** Where results and track events go on an MQTT broker; `url` null: nowhere. */
export interface MqttConfig {
  /** The broker, or null when --mqtt-url is not given. */
  url: MqttUrl | null;
  /** File holding the password (first line), or null. */
  passwordFile: string | null;
  /** CA certificate(s), PEM, that verify an mqtts broker; null: the system's store. */
  caFile: string | null;
  /** Every topic starts with this (no wildcards, no leading or trailing `/`). */
  topicPrefix: string;
  /** The client id; null: `pose-exporter-` and a random suffix. */
  clientId: string | null;
  /** QoS of every message: 0 (at most once) or 1 (at least once). */
  qos: 0 | 1;
  /** Publish every frame's result on `<prefix>/<stream_id>/poses`. */
  poses: boolean;
  /** Bytes of messages that may wait for the broker (queued and in flight); oldest dropped beyond. */
  queueBytes: number;
}

/** `--mqtt-password-file`, the exporter's and `doctor`'s. */
export const MQTT_PASSWORD_FILE_FLAG = {
  name: "mqtt-password-file",
  kind: "string",
  arg: "PATH",
  help: "the MQTT user's password, the file's first line",
} as const satisfies FlagSpec;

/** `--mqtt-ca-file`, the exporter's and `doctor`'s. */
export const MQTT_CA_FILE_FLAG = {
  name: "mqtt-ca-file",
  kind: "string",
  arg: "PATH",
  help: "CA certificate(s), PEM, that verify an mqtts broker (default: the system's store)",
} as const satisfies FlagSpec;

/** `--mqtt-topic-prefix`, the exporter's and `doctor`'s. */
export const MQTT_TOPIC_PREFIX_FLAG = {
  name: "mqtt-topic-prefix",
  kind: "string",
  arg: "PREFIX",
  default: "pose-exporter",
  help: "topics: PREFIX/available, PREFIX/<stream_id>/state, .../tracks, .../poses",
} as const satisfies FlagSpec;

/** The --mqtt-* flags, in --help order. */
export const MQTT_FLAGS: readonly FlagSpec[] = [
  {
    name: "mqtt-url",
    kind: "string",
    arg: "URL",
    help: "publish results and track events to this MQTT broker: mqtt://[USER@]HOST[:PORT], or " +
      "mqtts:// for TLS (a password in the URL is never shown; prefer --mqtt-password-file)",
  },
  MQTT_PASSWORD_FILE_FLAG,
  MQTT_CA_FILE_FLAG,
  MQTT_TOPIC_PREFIX_FLAG,
  {
    name: "mqtt-client-id",
    kind: "string",
    arg: "ID",
    help: "MQTT client id (default: pose-exporter- and a random suffix)",
  },
  {
    name: "mqtt-qos",
    kind: "choice",
    arg: "0|1",
    default: "1",
    choices: ["0", "1"],
    help: "QoS of every message: 1 = at least once, 0 = at most once",
  },
  {
    name: "mqtt-poses",
    kind: "boolean",
    help: "also publish every frame's result (the JSONL line) on PREFIX/<stream_id>/poses",
  },
  {
    name: "mqtt-queue-mib",
    kind: "number",
    arg: "MIB",
    default: "16",
    min: 0.01,
    max: 4096,
    help: "messages that may wait for an absent or slow broker; beyond, the oldest are dropped " +
      "and counted",
  },
];

/**
 * What is wrong with a topic prefix (the exporter's and `doctor --mqtt`'s), or null.
 *
 * @param prefix the --mqtt-topic-prefix value
 * @returns the words that follow the value in an `Invalid --mqtt-topic-prefix` problem
 */
export function topicPrefixProblem(prefix: string): string | null {
  if (prefix === "") return null;
  if (/[+#]/.test(prefix) || prefix.includes("\0") || /^\/|\/$/.test(prefix)) {
    return "is not a topic prefix (no +, # or NUL, no leading or trailing /)";
  }
  return null;
}

/** The names of the --mqtt-* flags. */
export type MqttFlagName = (typeof MQTT_FLAGS)[number]["name"];

/**
 * Resolves the --mqtt-* flags; each bad value adds a problem to `r.problems` (a bad URL or an
 * unknown scheme named, its password left out).
 *
 * @param r the exporter's flag values
 * @returns the slice (`url` null when --mqtt-url is not given or is bad)
 */
export function resolveMqttConfig(r: FlagValues): MqttConfig {
  const text = r.string("mqtt-url");
  let url: MqttUrl | null = null;
  if (text !== null && text !== "") {
    try {
      url = parseMqttUrl(text);
    } catch (err) {
      if (!(err instanceof MqttUrlError)) throw err;
      const { origin } = r.text("mqtt-url");
      r.problems.push(`Invalid ${origin}: ${err.message.replace(/^Invalid MQTT broker URL /, "")}`);
    }
  }
  const passwordFile = r.string("mqtt-password-file");
  const caFile = r.string("mqtt-ca-file");
  const prefix = r.string("mqtt-topic-prefix") ?? "pose-exporter";
  const prefixProblem = topicPrefixProblem(prefix);
  if (prefixProblem !== null) r.invalid("mqtt-topic-prefix", prefixProblem);
  const clientId = r.string("mqtt-client-id");
  const qos = r.choice<"0" | "1">("mqtt-qos") === "0" ? 0 : 1;
  const queueMiB = r.required("mqtt-queue-mib");
  if (text === null) {
    // Every other --mqtt-* flag means nothing without a broker: refused, not ignored.
    for (const flag of MQTT_FLAGS) {
      if (flag.name === "mqtt-url") continue;
      if (r.given(flag.name)) r.problems.push(`Flag --${flag.name} needs --mqtt-url`);
    }
  }
  if (url !== null && passwordFile !== null && url.password !== null) {
    r.problems.push(
      "Flags --mqtt-password-file and a password in --mqtt-url contradict each other: give one",
    );
  }
  if (url !== null && passwordFile !== null && url.username === null) {
    r.problems.push(
      `Flag --mqtt-password-file needs a user in --mqtt-url (mqtt://USER@${
        url.display.slice(url.scheme.length + 3)
      })`,
    );
  }
  if (url !== null && url.scheme === "mqtt" && caFile !== null) {
    r.problems.push("Flag --mqtt-ca-file needs an mqtts:// --mqtt-url (TLS)");
  }
  return {
    url,
    passwordFile,
    caFile,
    topicPrefix: prefix,
    clientId,
    qos,
    poses: r.bool("mqtt-poses"),
    queueBytes: Math.round(queueMiB * 2 ** 20),
  };
}

/** Thrown when a file a --mqtt-* flag names cannot be used; names the flag and the file. */
export class MqttFileError extends Error {
  /** The file. */
  readonly path: string;

  /**
   * @param flag the flag, without `--`
   * @param path the file
   * @param reason why it cannot be used
   * @param options the cause
   */
  constructor(flag: string, path: string, reason: string, options?: ErrorOptions) {
    super(`Cannot use --${flag} ${path}: ${reason}`, options);
    this.name = "MqttFileError";
    this.path = path;
  }
}

/** What the files of the --mqtt-* flags hold. */
export interface MqttSecrets {
  /** The password: the URL's, else the password file's first line; null for none. */
  password: string | null;
  /** The CA certificates, PEM, or null for the system's store. */
  ca: string | null;
}

function readFile(flag: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new MqttFileError(flag, path, `the file cannot be read: ${readFailure(err)}`, {
      cause: err,
    });
  }
}

/**
 * Reads the password file and the CA file of `config`, once, at start.
 *
 * @param config the MQTT slice, with a URL
 * @returns the password and the CA certificates
 * @throws {MqttFileError} naming the file that cannot be read, or is empty or not PEM
 */
export function readMqttSecrets(
  config: Pick<MqttConfig, "url" | "passwordFile" | "caFile">,
): MqttSecrets {
  let password = config.url?.password ?? null;
  if (config.passwordFile !== null) {
    password = readFile("mqtt-password-file", config.passwordFile).split(/\r?\n/)[0] ?? "";
    if (password === "") {
      throw new MqttFileError(
        "mqtt-password-file",
        config.passwordFile,
        "its first line is empty",
      );
    }
  }
  let ca: string | null = null;
  if (config.caFile !== null) {
    ca = readFile("mqtt-ca-file", config.caFile);
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
      throw new MqttFileError("mqtt-ca-file", config.caFile, "it holds no PEM certificate");
    }
  }
  return { password, ca };
}
