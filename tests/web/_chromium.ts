// Headless Chromium for the browser tests, driven over the DevTools protocol (a WebSocket).

import { freePort } from "../_helpers.ts";

/** Executable names tried in PATH, in order, after $CHROMIUM_BIN. */
const CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/**
 * The Chromium executable: $CHROMIUM_BIN, else the first candidate found in PATH.
 *
 * @returns its path, or null when none is installed
 */
export function findChromium(): string | null {
  const explicit = Deno.env.get("CHROMIUM_BIN");
  if (explicit) {
    try {
      return Deno.statSync(explicit).isFile ? explicit : null;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of CANDIDATES) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }
  return null;
}

/** The one-line reason the browser tests cannot run, or null when they can. */
export function chromiumMissing(): string | null {
  return findChromium() === null
    ? "live view browser test needs Chromium: run 'sudo apt-get install -y chromium' (or set CHROMIUM_BIN)"
    : null;
}

/**
 * Fails a test in one line (no stack) when Chromium is missing.
 *
 * @throws {Error} whose whole report is the line saying what to install
 */
export function requireChromium(): void {
  const missing = chromiumMissing();
  if (missing === null) return;
  const err = new Error(missing);
  err.stack = `Error: ${missing}`;
  throw err;
}

/** A headless Chromium with one page, controlled over the DevTools protocol. */
export class HeadlessChromium {
  #child: Deno.ChildProcess;
  #socket: WebSocket;
  #profile: string;
  #nextId = 1;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(child: Deno.ChildProcess, socket: WebSocket, profile: string) {
    this.#child = child;
    this.#socket = socket;
    this.#profile = profile;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data as string);
      const waiter = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`DevTools: ${message.error.message}`));
      else waiter.resolve(message.result);
    };
  }

  /**
   * Starts Chromium headless with a fresh profile and a `width` x `height` window.
   *
   * @param size the window size in CSS pixels
   * @returns the browser, its page at about:blank
   */
  static async launch(size: { width: number; height: number }): Promise<HeadlessChromium> {
    const executable = findChromium();
    if (executable === null) throw new Error(chromiumMissing()!);
    const port = freePort();
    const profile = await Deno.makeTempDir({ prefix: "pose-exporter-chromium-" });
    const child = new Deno.Command(executable, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--force-device-scale-factor=1",
        `--window-size=${size.width},${size.height}`,
        `--remote-debugging-port=${port}`,
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const deadline = Date.now() + 30_000;
      let target: { type: string; webSocketDebuggerUrl: string } | undefined;
      while (target === undefined) {
        if (Date.now() > deadline) throw new Error(`Chromium did not open port ${port} in 30 s`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/json/list`);
          const targets = await res.json() as { type: string; webSocketDebuggerUrl: string }[];
          target = targets.find((t) => t.type === "page");
        } catch {
          // not listening yet
        }
        if (target === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      const socket = new WebSocket(target.webSocketDebuggerUrl);
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error("Cannot connect to Chromium's DevTools socket"));
      });
      const browser = new HeadlessChromium(child, socket, profile);
      await browser.send("Emulation.setDeviceMetricsOverride", {
        width: size.width,
        height: size.height,
        deviceScaleFactor: 1,
        mobile: false,
      });
      return browser;
    } catch (err) {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(profile, { recursive: true });
      throw err;
    }
  }

  /** Sends one DevTools command and resolves with its result. */
  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Opens `url` in the page. */
  async navigate(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
  }

  /**
   * Evaluates `expression` in the page (awaiting a promise it returns) and returns its value.
   *
   * @throws {Error} with the page's exception text when it throws
   */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send<{
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    }>("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (result.exceptionDetails) {
      const d = result.exceptionDetails;
      throw new Error(`Page script failed: ${d.exception?.description ?? d.text}`);
    }
    return result.result.value as T;
  }

  /**
   * Polls `expression` in the page until it is truthy.
   *
   * @returns its last value
   * @throws {Error} naming the expression when `timeoutMs` passes
   */
  async waitFor<T>(expression: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`Gave up waiting in the page for: ${expression}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A PNG screenshot of the page's viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send<{ data: string }>("Page.captureScreenshot", {
      format: "png",
    });
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Closes the socket, ends Chromium and removes its profile. */
  async close(): Promise<void> {
    const closed = new Promise((r) => (this.#socket.onclose = r));
    this.#socket.close();
    await closed;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await this.#child.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => undefined);
  }
}
