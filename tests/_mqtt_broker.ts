// A real mosquitto (Debian's) for the MQTT tests: its own config file and port on 127.0.0.1,
// persistence off, optionally a password file made with mosquitto_passwd and a TLS listener.

import { mqttJs as mqtt } from "../src/mqtt/mqtt_client.ts";
import type { MqttClient } from "../src/mqtt/mqtt_client.ts";
import { freePort } from "./_helpers.ts";

/**
 * Where Debian's mosquitto is: on PATH, else /usr/sbin (outside a user's PATH); null when it is
 * not installed (scripts/ensure_test_deps.sh installs it).
 */
export function mosquittoBinary(): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== ""), "/usr/sbin"];
  for (const dir of dirs) {
    try {
      if (Deno.statSync(`${dir}/mosquitto`).isFile) return `${dir}/mosquitto`;
    } catch {
      // not there
    }
  }
  return null;
}

/** Options of {@linkcode MqttBroker.start}. */
export interface MqttBrokerOptions {
  /** Users and their passwords; with any, anonymous clients are refused. @default {{}} */
  users?: Record<string, string>;
  /** Serve TLS (mqtts) with this certificate and key instead of plain MQTT. */
  tls?: { certFile: string; keyFile: string };
  /** The port; a free one when absent. */
  port?: number;
}

/** Runs `cmd args`, throwing with its stderr when it fails. */
async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * One mosquitto process with its own folder (config, password file, log). {@linkcode stop}
 * ends it for good; {@linkcode kill} and {@linkcode restart} make an outage on the same port.
 */
export class MqttBroker {
  readonly dir: string;
  readonly port: number;
  /** `mqtt://127.0.0.1:PORT` (or `mqtts://localhost:PORT` with TLS). */
  readonly url: string;
  #child: Deno.ChildProcess | null = null;
  #stderr: Promise<string> = Promise.resolve("");

  private constructor(dir: string, port: number, tls: boolean) {
    this.dir = dir;
    this.port = port;
    this.url = tls ? `mqtts://localhost:${port}` : `mqtt://127.0.0.1:${port}`;
  }

  /** Writes the config (and password file) and starts mosquitto; resolves once it accepts. */
  static async start(options: MqttBrokerOptions = {}): Promise<MqttBroker> {
    const dir = await Deno.makeTempDir({ prefix: "h26_mosquitto_" });
    const port = options.port ?? freePort();
    const broker = new MqttBroker(dir, port, options.tls !== undefined);
    const users = Object.entries(options.users ?? {});
    const lines = [
      `listener ${port} 127.0.0.1`,
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "max_queued_messages 100000",
      `allow_anonymous ${users.length === 0}`,
      // As root mosquitto would switch to its own user, which cannot read this folder.
      ...(Deno.uid() === 0 ? ["user root"] : []),
    ];
    if (users.length > 0) {
      await broker.setUsers(options.users!);
      lines.push(`password_file ${dir}/passwords`);
    }
    if (options.tls) {
      lines.push(`certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`);
    }
    await Deno.writeTextFile(`${dir}/mosquitto.conf`, lines.join("\n") + "\n");
    await broker.restart();
    return broker;
  }

  /** The running mosquitto's process id, or null between {@linkcode kill} and a restart. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /**
   * Writes the password file anew (a changed password): it takes effect at the next
   * {@linkcode restart}. Only for a broker started with `users`.
   */
  async setUsers(users: Record<string, string>): Promise<void> {
    const file = `${this.dir}/passwords`;
    await Deno.remove(file).catch(() => {});
    for (const [i, [user, password]] of Object.entries(users).entries()) {
      await run("mosquitto_passwd", [...(i === 0 ? ["-c"] : []), "-b", file, user, password]);
    }
    await Deno.chmod(file, 0o600);
  }

  /** Starts mosquitto again on the same port (after {@linkcode kill}). */
  async restart(): Promise<void> {
    if (this.#child !== null) throw new Error("mosquitto is already running");
    const binary = mosquittoBinary();
    if (binary === null) {
      throw new Error("mosquitto is not installed: run scripts/ensure_test_deps.sh (as root)");
    }
    const child = new Deno.Command(binary, {
      args: ["-c", `${this.dir}/mosquitto.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#stderr = new Response(child.stderr).text();
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`mosquitto did not listen on ${this.port}: ${await this.#stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills mosquitto at once (SIGKILL) and waits for it; what it held in memory is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await this.#stderr;
  }

  /** Kills mosquitto and removes its folder. */
  async stop(): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** One message a {@linkcode Subscriber} received. */
export interface ReceivedMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/** An mqtt.js subscriber that keeps every message it receives, reconnecting fast. */
export class Subscriber {
  readonly messages: ReceivedMessage[] = [];
  readonly client: MqttClient;

  private constructor(client: MqttClient) {
    this.client = client;
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    });
  }

  /**
   * Connects to `url` and subscribes to `topic` (QoS 1); resolves once subscribed.
   *
   * @param url the broker
   * @param topic the filter, e.g. `pose-exporter/#`
   * @param options a login
   */
  static async start(
    url: string,
    topic: string,
    options: { username?: string; password?: string; ca?: string } = {},
  ): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, {
      reconnectPeriod: 50,
      clean: true,
      ...options,
    });
    const sub = new Subscriber(client);
    await client.subscribeAsync(topic, { qos: 1 });
    return sub;
  }

  /** The messages on topics matching `re`. */
  on(re: RegExp): ReceivedMessage[] {
    return this.messages.filter((m) => re.test(m.topic));
  }

  /** Waits until `accept()` holds, up to `timeoutMs`. */
  async until(accept: () => boolean, timeoutMs = 10_000, what = "the messages"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!accept()) {
      if (Date.now() > deadline) {
        const topics = [...new Set(this.messages.map((m) => m.topic))].join(", ");
        throw new Error(`Gave up waiting for ${what}; topics seen: ${topics}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
