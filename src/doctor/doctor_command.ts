// `pose-exporter doctor`: finds why Grafana shows "No Data", check by check, with the fix for each.

import { parseArgs } from "node:util";
import { runDoctor } from "./doctor.ts";
import {
  DEFAULT_DASHBOARD_UID,
  DEFAULT_DATASOURCE_UID,
  grafanaAuthFromEnv,
} from "./grafana_checks.ts";
import { renderJson, renderText } from "./report.ts";

/** The usage text of `pose-exporter doctor --help`. */
export const DOCTOR_USAGE = `Usage: pose-exporter doctor [flags]

Walks the path from the exporter to the Grafana panel and says, for the first broken link, what
is wrong and how to fix it. Exits 0 when no check failed, 1 otherwise, 2 on bad flags.

Flags:
  --exporter URL        the exporter (default http://127.0.0.1:8000)
  --prometheus URL      Prometheus (default http://127.0.0.1:9090)
  --grafana URL         Grafana; checked only when given (the stack's: http://localhost:7000)
  --timeout-ms N        deadline of each request (default 3000)
  --datasource-uid UID  Grafana datasource the panels use (default ${DEFAULT_DATASOURCE_UID})
  --dashboard-uid UID   the provisioned dashboard (default ${DEFAULT_DASHBOARD_UID})
  --json                print the results as one JSON document
  -h, --help            this text

Grafana credentials come from the stack's environment: GRAFANA_TOKEN (bearer), else
GRAFANA_ADMIN_USER (default admin) and GRAFANA_ADMIN_PASSWORD, else anonymous.`;

const encoder = new TextEncoder();

async function write(stream: { write(p: Uint8Array): Promise<number> }, text: string) {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(await stream.write(bytes));
}

function parseBaseUrl(flag: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value.includes("://") ? value : `http://${value}`);
  } catch {
    throw new Error(`Invalid --${flag}: not a URL: ${value}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`Invalid --${flag}: not an http(s) URL: ${value}`);
  }
  // The exporter's /metrics and Grafana's or Prometheus' paths are added by the checks.
  const path = url.pathname.replace(/\/metrics\/?$/, "").replace(/\/+$/, "");
  return new URL(`${url.origin}${path}/`);
}

/**
 * Runs `pose-exporter doctor` with the flags after `doctor`.
 *
 * @param args the flags
 * @returns the exit code: 0 when nothing failed, 1 otherwise, 2 on bad flags
 */
export async function doctorCommand(args: string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        exporter: { type: "string", default: "http://127.0.0.1:8000" },
        prometheus: { type: "string", default: "http://127.0.0.1:9090" },
        grafana: { type: "string" },
        "timeout-ms": { type: "string", default: "3000" },
        "datasource-uid": { type: "string", default: DEFAULT_DATASOURCE_UID },
        "dashboard-uid": { type: "string", default: DEFAULT_DASHBOARD_UID },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      await write(Deno.stdout, DOCTOR_USAGE + "\n");
      return 0;
    }
    const timeoutMs = Number(values["timeout-ms"]);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new Error(`Invalid --timeout-ms: not a positive whole number: ${values["timeout-ms"]}`);
    }
    options = {
      exporter: parseBaseUrl("exporter", values.exporter),
      prometheus: parseBaseUrl("prometheus", values.prometheus),
      grafana: values.grafana === undefined ? null : parseBaseUrl("grafana", values.grafana),
      timeoutMs,
      datasourceUid: values["datasource-uid"],
      dashboardUid: values["dashboard-uid"],
      json: values.json,
    };
  } catch (err) {
    await write(
      Deno.stderr,
      `pose-exporter doctor: ${(err as Error).message}\nRun with --help for the flags.\n`,
    );
    return 2;
  }
  const env = {
    GRAFANA_TOKEN: Deno.env.get("GRAFANA_TOKEN"),
    GRAFANA_ADMIN_USER: Deno.env.get("GRAFANA_ADMIN_USER"),
    GRAFANA_ADMIN_PASSWORD: Deno.env.get("GRAFANA_ADMIN_PASSWORD"),
  };
  const results = await runDoctor({ ...options, grafanaAuth: grafanaAuthFromEnv(env) });
  await write(Deno.stdout, options.json ? renderJson(results) : renderText(results));
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await doctorCommand(Deno.args));
}
