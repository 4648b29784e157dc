// deno task stack [up|down]: starts or stops the Prometheus + Grafana stack of docker-compose.monitoring.yml.

const COMPOSE_FILE = new URL("../docker-compose.monitoring.yml", import.meta.url).pathname;
/** Where a generated Grafana admin password is kept (owner-only), so the printed one stays true. */
export const PASSWORD_FILE = new URL("../.grafana-admin-password", import.meta.url).pathname;
const PROMETHEUS = "http://localhost:9090";
const GRAFANA = "http://localhost:7000";

/** Thrown when Docker cannot run the stack; the message is the one line the user sees. */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackError";
  }
}

async function docker(args: string[], env: Record<string, string> = {}, inherit = false) {
  try {
    const out = await new Deno.Command("docker", {
      args,
      env,
      stdin: "null",
      stdout: inherit ? "inherit" : "piped",
      stderr: inherit ? "inherit" : "piped",
    }).output();
    const text = inherit
      ? ""
      : new TextDecoder().decode(out.stderr).trim() || new TextDecoder().decode(out.stdout).trim();
    return { ok: out.success, text };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new StackError(
        "docker is not installed: install Docker Engine with its compose plugin to run the stack",
      );
    }
    throw err;
  }
}

/** Checks that a Docker engine and the compose plugin are there. */
export async function checkDocker(): Promise<void> {
  const info = await docker(["info", "--format", "{{.ServerVersion}}"]);
  if (!info.ok) {
    const why = info.text.split("\n").find((l) => l.trim() !== "") ?? "no answer";
    throw new StackError(
      `no Docker engine is reachable (docker info: ${why.trim()}): start Docker and try again`,
    );
  }
  const compose = await docker(["compose", "version"]);
  if (!compose.ok) {
    throw new StackError("docker compose is missing: install Docker's compose plugin");
  }
}

async function waitFor(url: string, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new StackError(
    `${name} did not answer at ${url} within ${
      timeoutMs / 1000
    } s: see docker compose -f ${COMPOSE_FILE} logs`,
  );
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * The Grafana admin password: GRAFANA_ADMIN_PASSWORD when set, else the one kept in `path`,
 * else a new one written there readable by the owner only. Grafana takes the password on its
 * first start only, so keeping it is what makes the printed one right on every later start.
 */
export async function adminPassword(
  path: string = PASSWORD_FILE,
  env: string | undefined = Deno.env.get("GRAFANA_ADMIN_PASSWORD"),
): Promise<{ password: string; source: "environment" | "kept" | "generated" }> {
  if (env) return { password: env, source: "environment" };
  try {
    const kept = (await Deno.readTextFile(path)).trim();
    if (kept !== "") return { password: kept, source: "kept" };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const password = randomPassword();
  await Deno.writeTextFile(path, password + "\n", { mode: 0o600, createNew: true });
  await Deno.chmod(path, 0o600);
  return { password, source: "generated" };
}

async function up(): Promise<void> {
  await checkDocker();
  const { password, source } = await adminPassword();
  const env: Record<string, string> = { GRAFANA_ADMIN_PASSWORD: password };
  if (source !== "environment") {
    console.log(`Grafana admin password (kept in ${PASSWORD_FILE}): ${password}`);
  }
  const started = await docker(["compose", "-f", COMPOSE_FILE, "up", "-d"], env, true);
  if (!started.ok) throw new StackError(`docker compose up failed: see its output above`);
  await waitFor(`${PROMETHEUS}/-/ready`, "Prometheus", 120_000);
  await waitFor(`${GRAFANA}/api/health`, "Grafana", 120_000);
  console.log(`Prometheus: ${PROMETHEUS}`);
  console.log(`Grafana:    ${GRAFANA} (dashboard "pose-exporter"; log in as admin)`);
  console.log(
    "Now run the exporter on this host: deno task start ... (it listens on 0.0.0.0:8000, which " +
      "Prometheus scrapes as host.docker.internal:8000)",
  );
}

async function down(): Promise<void> {
  await checkDocker();
  const stopped = await docker(["compose", "-f", COMPOSE_FILE, "down"], {}, true);
  if (!stopped.ok) throw new StackError("docker compose down failed: see its output above");
}

if (import.meta.main) {
  const [command = "up", ...rest] = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
  try {
    if (rest.length > 0 || !["up", "down"].includes(command)) {
      throw new StackError(
        `unknown arguments ${JSON.stringify(Deno.args.join(" "))}: use deno task stack [up|down]`,
      );
    }
    await (command === "down" ? down() : up());
  } catch (err) {
    if (!(err instanceof StackError)) throw err;
    console.error(`pose-exporter stack: ${err.message}`);
    Deno.exit(1);
  }
}
