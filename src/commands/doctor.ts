// pose-exporter doctor: finds why Grafana shows "No Data", check by check, with the fix for each
// (the checks themselves are src/doctor/'s).

import { type CommandSpec, PROGRAM, readCommandLine } from "../cli/command_line.ts";
import { type FlagSpec, HELP_FLAG } from "../cli/flags.ts";
import { renderUsage } from "../cli/usage.ts";
import { runDoctor } from "../doctor/doctor.ts";
import {
  DEFAULT_DASHBOARD_UID,
  DEFAULT_DATASOURCE_UID,
  grafanaAuthFromEnv,
} from "../doctor/grafana_checks.ts";
import { renderJson, renderText } from "../doctor/report.ts";
import { EXIT } from "../exit_codes.ts";
import {
  DEFAULT_EXPORTER_ORIGIN,
  exporterOriginFromEnv,
  LISTEN_ENV,
  WEB_CONFIG_ENV,
} from "./_exporter_url.ts";
import { type ExporterLogin, loginClient, readExporterLogin } from "./_exporter_login.ts";
import { checkMqtt, type MqttCheckOptions } from "../doctor/mqtt_checks.ts";
import {
  MQTT_CA_FILE_FLAG,
  MQTT_PASSWORD_FILE_FLAG,
  MQTT_TOPIC_PREFIX_FLAG,
  MqttFileError,
  readMqttSecrets,
  topicPrefixProblem,
} from "../mqtt/mqtt_config.ts";
import { type MqttUrl, MqttUrlError, parseMqttUrl } from "../mqtt/mqtt_url.ts";

/** The flags of `pose-exporter doctor`. */
export const DOCTOR_FLAGS = [
  {
    name: "exporter",
    kind: "url",
    arg: "URL",
    default: DEFAULT_EXPORTER_ORIGIN,
    help: `the exporter; without it, where ${LISTEN_ENV} says it listens (a wildcard host ` +
      `asked on loopback), over https when ${WEB_CONFIG_ENV}'s file turns TLS on`,
  },
  {
    name: "exporter-user",
    kind: "string",
    arg: "NAME",
    help: "log in to a protected exporter as this user (one of its basic_auth_users)",
  },
  {
    name: "exporter-password-file",
    kind: "string",
    arg: "PATH",
    help: "the exporter user's password, in a file (the web config holds only its hash)",
  },
  {
    name: "exporter-ca-file",
    kind: "string",
    arg: "PATH",
    help: "CA certificate(s), PEM, that verify an https exporter's certificate",
  },
  {
    name: "prometheus",
    kind: "url",
    arg: "URL",
    default: "http://127.0.0.1:9090",
    help: "Prometheus",
  },
  {
    name: "grafana",
    kind: "url",
    arg: "URL",
    help: "Grafana; checked only when given (the stack's: http://localhost:7000)",
  },
  {
    name: "timeout-ms",
    kind: "integer",
    arg: "N",
    default: "3000",
    min: 1,
    max: 600000,
    help: "deadline of each request",
  },
  {
    name: "datasource-uid",
    kind: "string",
    arg: "UID",
    default: DEFAULT_DATASOURCE_UID,
    help:
      "Grafana datasource to check and to run the panels' queries on (the dashboard's ${datasource} variable, whose default it is)",
  },
  {
    name: "dashboard-uid",
    kind: "string",
    arg: "UID",
    default: DEFAULT_DASHBOARD_UID,
    help: "the provisioned dashboard",
  },
  {
    name: "mqtt",
    kind: "string",
    arg: "URL",
    help: "also check this MQTT broker (the exporter's --mqtt-url): reachable, login accepted, " +
      "publish and receive under --mqtt-topic-prefix",
  },
  MQTT_PASSWORD_FILE_FLAG,
  MQTT_CA_FILE_FLAG,
  MQTT_TOPIC_PREFIX_FLAG,
  { name: "json", kind: "boolean", help: "print the results as one JSON document" },
  HELP_FLAG,
] as const satisfies readonly FlagSpec[];

/** The settings `doctor` runs with. */
interface DoctorSettings {
  exporter: URL;
  prometheus: URL;
  grafana: URL | null;
  timeoutMs: number;
  datasourceUid: string;
  dashboardUid: string;
  json: boolean;
  login: ExporterLogin;
  /** The MQTT broker to check, or null. */
  mqtt: { url: MqttUrl; options: MqttCheckOptions } | null;
}

/** The broker of `doctor --mqtt`, its password and CA read; each problem added to `problems`. */
function readMqttTarget(
  flags: { url: string | null; passwordFile: string | null; caFile: string | null; prefix: string },
  problems: string[],
): DoctorSettings["mqtt"] {
  if (flags.url === null) return null;
  const prefixProblem = topicPrefixProblem(flags.prefix);
  if (prefixProblem !== null) {
    problems.push(`Invalid --mqtt-topic-prefix: ${JSON.stringify(flags.prefix)} ${prefixProblem}`);
    return null;
  }
  try {
    const url = parseMqttUrl(flags.url);
    if (flags.passwordFile !== null && url.username === null) {
      problems.push(
        `Flag --mqtt-password-file needs a user in --mqtt (mqtt://USER@${
          url.display.slice(url.scheme.length + 3)
        })`,
      );
      return null;
    }
    const secrets = readMqttSecrets({
      url,
      passwordFile: flags.passwordFile,
      caFile: flags.caFile,
    });
    return { url, options: { password: secrets.password, ca: secrets.ca, prefix: flags.prefix } };
  } catch (err) {
    if (err instanceof MqttUrlError) {
      problems.push(`Invalid --mqtt: ${err.message.replace(/^Invalid MQTT broker URL /, "")}`);
      return null;
    }
    if (!(err instanceof MqttFileError)) throw err;
    problems.push(err.message);
    return null;
  }
}

/** A base URL the checks add their paths to: without /metrics, ending in one slash. */
function baseUrl(url: URL): URL {
  const path = url.pathname.replace(/\/metrics\/?$/, "").replace(/\/+$/, "");
  return new URL(`${url.origin}${path}/`);
}

/** Stands in for a refused URL; the command ends with the problem before any check runs. */
const REFUSED = new URL("http://invalid/");

const DOCTOR: CommandSpec<(typeof DOCTOR_FLAGS)[number]["name"], DoctorSettings> = {
  name: "doctor",
  flags: DOCTOR_FLAGS,
  usage: renderUsage({
    synopsis: [`${PROGRAM} doctor [flags]`],
    about: [
      "Walks the path from the exporter to the Grafana panel and says, for the first broken " +
      `link, what is wrong and how to fix it. Exits ${EXIT.ok} when no check failed, ` +
      `${EXIT.failure} otherwise, ${EXIT.usage} on bad flags.`,
    ],
    flags: DOCTOR_FLAGS,
    notes: [
      `Environment: ${LISTEN_ENV} (HOST:PORT), read as the exporter reads it, places the default ` +
      "--exporter; --exporter wins. Grafana credentials come from the stack's environment: " +
      "GRAFANA_TOKEN (bearer), else GRAFANA_ADMIN_USER (default admin) and " +
      "GRAFANA_ADMIN_PASSWORD, else anonymous. The other flags are read from the command line only.",
    ],
  }),
  read(values, env) {
    const exporter = values.given("exporter")
      ? values.url("exporter")
      : new URL(exporterOriginFromEnv(env, { flag: "--exporter", problems: values.problems }));
    const prometheus = values.url("prometheus");
    const grafana = values.url("grafana");
    return {
      exporter: baseUrl(exporter ?? REFUSED),
      prometheus: baseUrl(prometheus ?? REFUSED),
      grafana: grafana === null ? null : baseUrl(grafana),
      timeoutMs: values.required("timeout-ms"),
      datasourceUid: values.string("datasource-uid") ?? DEFAULT_DATASOURCE_UID,
      dashboardUid: values.string("dashboard-uid") ?? DEFAULT_DASHBOARD_UID,
      json: values.bool("json"),
      login: readExporterLogin(
        {
          user: values.string("exporter-user"),
          passwordFile: values.string("exporter-password-file"),
          caFile: values.string("exporter-ca-file"),
        },
        {
          user: "exporter-user",
          passwordFile: "exporter-password-file",
          caFile: "exporter-ca-file",
        },
        values.problems,
      ),
      mqtt: readMqttTarget({
        url: values.string("mqtt"),
        passwordFile: values.string("mqtt-password-file"),
        caFile: values.string("mqtt-ca-file"),
        prefix: values.string("mqtt-topic-prefix") ?? "pose-exporter",
      }, values.problems),
    };
  },
};

const encoder = new TextEncoder();

async function write(stream: { write(p: Uint8Array): Promise<number> }, text: string) {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(await stream.write(bytes));
}

/**
 * Runs `pose-exporter doctor` with the flags after `doctor`.
 *
 * @param args the flags
 * @param env the environment, for POSE_EXPORTER_LISTEN and Grafana's credentials
 * @returns {@linkcode EXIT}: ok when nothing failed, failure otherwise, usage on bad flags
 */
export async function doctorCommand(
  args: string[],
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Promise<number> {
  const line = readCommandLine(DOCTOR, { args, env });
  if ("exitCode" in line) return line.exitCode;
  const { json, login, mqtt, ...options } = line.settings;
  const client = loginClient(login);
  let results;
  try {
    results = await runDoctor({
      ...options,
      grafanaAuth: grafanaAuthFromEnv(env),
      exporterHeaders: login.headers,
      ...(client ? { exporterClient: client } : {}),
    });
  } finally {
    client?.close();
  }
  if (mqtt !== null) {
    results.push(...await checkMqtt(mqtt.url, { ...mqtt.options, timeoutMs: options.timeoutMs }));
  }
  await write(Deno.stdout, json ? renderJson(results) : renderText(results));
  return results.some((r) => r.status === "fail") ? EXIT.failure : EXIT.ok;
}
