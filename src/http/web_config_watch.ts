// The web configuration in force: read at start from --web-config-file, read again when the file,
// its certificate or its key changes; a change that breaks it keeps the last good one (logged and
// counted).

import type { Logger } from "../log.ts";
import { type SourcesFileWatch, watchSourcesFile } from "../sources/sources_file.ts";
import {
  loadWebConfig,
  OPEN_WEB_SETTINGS,
  sameTls,
  WebConfigError,
  type WebSettings,
} from "./web_config.ts";
import type { WebMetrics } from "./web_metrics.ts";

/** Options of {@linkcode WebConfigWatch.open}. */
export interface WebConfigWatchOptions {
  log: Logger;
  metrics?: WebMetrics;
  /**
   * Puts new TLS settings in force (reopens the listener); called before they are taken. When it
   * throws, the change is refused as a broken one.
   */
  onTlsChange?: (settings: WebSettings) => Promise<void>;
  /** Quiet time after a change before the file is read, ms. @default {500} */
  quietMs?: number;
  /** How often the files are also checked for changes file events miss, ms. @default {2000} */
  pollMs?: number;
}

/** One line's worth of what a configuration holds, for the logs. */
export function describeSettings(settings: WebSettings): Record<string, string | number> {
  const tls = settings.tls;
  return {
    tls: tls === null ? "off" : "on",
    ...(tls !== null && Number.isFinite(tls.notAfter)
      ? { certificate_expires: new Date(tls.notAfter).toISOString() }
      : {}),
    basic_auth_users: settings.users.size,
    ...(settings.rateLimit
      ? { rate_limit: `${settings.rateLimit.burst} per ${settings.rateLimit.intervalMs} ms` }
      : {}),
  };
}

/**
 * Holds the web configuration in force. A change of the file or of the certificate and key
 * files it names is read once the files have been quiet for `quietMs` (the folders are watched,
 * so renames and Kubernetes Secret updates are seen; the files are also checked every `pollMs`).
 * A change that cannot be used (bad YAML, an unknown key, a missing certificate, a key that does
 * not fit) keeps the configuration in force, is logged and counted in
 * `pose_web_config_reload_failures_total`.
 */
export class WebConfigWatch {
  #path: string | null;
  #settings: WebSettings;
  #options: WebConfigWatchOptions;
  #watches = new Map<string, SourcesFileWatch>();
  #reloading: Promise<boolean> | null = null;
  #again = false;
  #stopped = false;

  private constructor(path: string | null, settings: WebSettings, options: WebConfigWatchOptions) {
    this.#path = path;
    this.#settings = settings;
    this.#options = options;
    options.metrics?.certificate(settings.tls?.notAfter ?? null);
    this.#follow(settings.files);
  }

  /**
   * Reads the file (none: open, plain HTTP) and starts watching it.
   *
   * @param path the --web-config-file, or null
   * @param options the logger, metrics and what puts a new certificate in force
   * @returns the watch, its settings in force
   * @throws {WebConfigError} naming the file, each bad key and its problem
   */
  static open(path: string | null, options: WebConfigWatchOptions): WebConfigWatch {
    const settings = path === null ? OPEN_WEB_SETTINGS : loadWebConfig(path);
    return new WebConfigWatch(path, settings, options);
  }

  /** The configuration in force now. */
  get settings(): WebSettings {
    return this.#settings;
  }

  /**
   * Reads the file again now (what a change does by itself): one read at a time, and a change
   * during a read reads once more after it.
   *
   * @returns whether the file's content is in force now
   */
  reload(): Promise<boolean> {
    if (this.#path === null) return Promise.resolve(true);
    if (this.#reloading !== null) {
      this.#again = true;
      return this.#reloading;
    }
    const run = (async () => {
      let ok = await this.#readOnce();
      while (this.#again && !this.#stopped) {
        this.#again = false;
        ok = await this.#readOnce();
      }
      return ok;
    })().finally(() => (this.#reloading = null));
    this.#reloading = run;
    return run;
  }

  /** Stops watching. */
  stop(): void {
    this.#stopped = true;
    for (const watch of this.#watches.values()) watch.stop();
    this.#watches.clear();
  }

  async #readOnce(): Promise<boolean> {
    const path = this.#path!;
    const { log, metrics } = this.#options;
    let next: WebSettings;
    try {
      next = loadWebConfig(path);
    } catch (err) {
      if (!(err instanceof WebConfigError)) throw err;
      metrics?.reloaded(false);
      log.error("web config change refused: the configuration in force is kept", {
        file: path,
        error: err.problems.join("; "),
      });
      return false;
    }
    const old = this.#settings;
    if (!sameTls(old, next) && this.#options.onTlsChange) {
      try {
        await this.#options.onTlsChange(next);
      } catch (err) {
        metrics?.reloaded(false);
        log.error("web config change refused: the new certificate cannot be served", {
          file: path,
          error: (err as Error).message ?? String(err),
        });
        return false;
      }
    }
    this.#settings = next;
    metrics?.reloaded(true);
    metrics?.certificate(next.tls?.notAfter ?? null);
    this.#follow(next.files);
    for (const watch of this.#watches.values()) watch.markSeen();
    log.info("web config reloaded", { file: path, ...describeSettings(next) });
    return true;
  }

  /** Watches exactly `files` (the file, and its certificate and key files). */
  #follow(files: readonly string[]): void {
    if (this.#stopped || this.#path === null) return;
    const wanted = new Set([this.#path, ...files]);
    for (const [file, watch] of this.#watches) {
      if (!wanted.has(file)) {
        watch.stop();
        this.#watches.delete(file);
      }
    }
    for (const file of wanted) {
      if (this.#watches.has(file)) continue;
      this.#watches.set(
        file,
        watchSourcesFile(file, () => void this.reload(), {
          quietMs: this.#options.quietMs ?? 500,
          pollMs: this.#options.pollMs ?? 2000,
        }),
      );
    }
  }
}
