// Helpers of the web security tests: certificates made with openssl, bcrypt hashes made with
// htpasswd (Debian's apache2-utils), web config files, and a real Prometheus with one scrape job.

import { stringify as stringifyYaml } from "yaml";
import { freePort, pollUntil, spawnPrometheus } from "./_helpers.ts";

/** A CA and a server certificate it signed, in a folder. */
export interface TlsFiles {
  dir: string;
  /** The CA's certificate (what clients trust). */
  caFile: string;
  /** The server's certificate, for localhost and 127.0.0.1 (and `extraNames`). */
  certFile: string;
  keyFile: string;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    ...(cwd ? { cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

/**
 * Makes a CA (once per folder) and a server certificate signed by it, valid for localhost and
 * 127.0.0.1, with openssl. A second call with another `name` writes a second pair.
 */
export async function makeTlsFiles(
  dir: string,
  options: { name?: string; days?: number } = {},
): Promise<TlsFiles> {
  const name = options.name ?? "server";
  const caFile = `${dir}/ca.crt`;
  const caKey = `${dir}/ca.key`;
  try {
    await Deno.stat(caFile);
  } catch {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      caKey,
      "-out",
      caFile,
      "-days",
      "2",
      "-subj",
      `/CN=pose-exporter test CA ${crypto.randomUUID().slice(0, 8)}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
    ]);
  }
  const certFile = `${dir}/${name}.crt`;
  const keyFile = `${dir}/${name}.key`;
  await run("openssl", [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    `${dir}/${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  await Deno.writeTextFile(
    `${dir}/${name}.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    `${dir}/${name}.csr`,
    "-CA",
    caFile,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    certFile,
    "-days",
    String(options.days ?? 2),
    "-extfile",
    `${dir}/${name}.ext`,
  ]);
  return { dir, caFile, certFile, keyFile };
}

/** A bcrypt hash of `password` at cost `cost`, as `htpasswd -nbBC` writes it. */
export async function bcryptHash(password: string, cost = 10): Promise<string> {
  const line = await run("htpasswd", ["-nbBC", String(cost), "user", password]);
  return line.trim().slice("user:".length);
}

/** Writes a web config file from a document. */
export async function writeWebConfig(path: string, doc: unknown): Promise<void> {
  await Deno.writeTextFile(path, stringifyYaml(doc));
}

/** Runs curl; returns the status code (0 when none came) and the body and headers. */
export async function curl(
  url: string,
  args: string[] = [],
): Promise<{ status: number; body: string; headers: string; error: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "-D", "-", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10", ...args, url],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  const status = Number(text.slice(cut + 1));
  const rest = text.slice(0, cut);
  const split = rest.indexOf("\r\n\r\n");
  return {
    status,
    headers: split < 0 ? "" : rest.slice(0, split),
    body: split < 0 ? rest : rest.slice(split + 4),
    error: new TextDecoder().decode(out.stderr),
  };
}

/** One scrape job of {@linkcode ScrapingPrometheus}: its name, target and extra settings. */
export interface ScrapeJob {
  name: string;
  /** The exporter's host:port. */
  target: string;
  /** Extra settings of the job (scheme, tls_config, basic_auth). */
  scrape?: Record<string, unknown>;
}

/** A real Prometheus scraping the exporter with a job per way of scraping it. */
export class ScrapingPrometheus {
  readonly url: string;
  readonly dir: string;
  #child: Deno.ChildProcess;

  private constructor(dir: string, port: number, child: Deno.ChildProcess) {
    this.dir = dir;
    this.url = `http://127.0.0.1:${port}`;
    this.#child = child;
  }

  /**
   * Starts Prometheus on a free loopback port, scraping every second.
   *
   * @param jobs the scrape jobs; `files` are written into its folder first (password files)
   */
  static async start(
    jobs: ScrapeJob[],
    files: Record<string, string> = {},
  ): Promise<ScrapingPrometheus> {
    const dir = await Deno.makeTempDir({ prefix: "pose_web_prometheus_" });
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      stringifyYaml({
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        scrape_configs: jobs.map((j) => ({
          job_name: j.name,
          ...(j.scrape ?? {}),
          static_configs: [{ targets: [j.target] }],
        })),
      }),
    );
    const child = spawnPrometheus(dir, port);
    const prometheus = new ScrapingPrometheus(dir, port, child);
    await pollUntil(`${prometheus.url}/-/ready`, (_, status) => status === 200, 30_000);
    return prometheus;
  }

  /** Job `job`'s target health and last error, once `want(health)` holds. */
  async target(
    job: string,
    want: (health: string) => boolean,
  ): Promise<{ health: string; lastError: string }> {
    let seen = { health: "unknown", lastError: "" };
    await pollUntil(`${this.url}/api/v1/targets?state=active`, (text) => {
      const t = (JSON.parse(text).data?.activeTargets ?? []).find(
        (t: { labels: { job: string } }) => t.labels.job === job,
      );
      if (t) seen = { health: t.health, lastError: t.lastError };
      return t !== undefined && want(t.health);
    }, 30_000);
    return seen;
  }

  /** Runs an instant query; the result vector. */
  async query(
    expr: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()).data?.result ?? [];
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already ended
    }
    await this.#child.status;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
