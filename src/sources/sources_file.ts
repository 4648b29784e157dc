// The sources file (--sources-file): one `[ID=]URI` per line, read at start and on each reload,
// and watched so that an edit is picked up once the file has been quiet for a moment.

import {
  resolveSourceArgs,
  type SourceArg,
  type SourceSpec,
  splitSourceArg,
} from "./source_uri.ts";

/** Thrown when the sources file cannot be read or holds a bad line; names the file and line. */
export class SourcesFileError extends Error {
  /** The file. */
  readonly path: string;
  /** Each problem, starting with `PATH:LINE:` where a line is at fault. */
  readonly problems: readonly string[];

  constructor(path: string, problems: string[], options?: ErrorOptions) {
    super(problems.join("; "), options);
    this.name = "SourcesFileError";
    this.path = path;
    this.problems = problems;
  }
}

/**
 * Parses a sources file's text: one `[ID=]URI` per line; blank lines and lines starting with
 * `#` are skipped; surrounding whitespace is trimmed (whitespace inside a path stays).
 */
export function parseSourcesText(path: string, text: string): SourceArg[] {
  const args: SourceArg[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    args.push({ text: line, origin: `${path}:${i + 1}` });
  });
  return args;
}

/**
 * Reads the sources file and resolves its lines together with the flags' sources.
 *
 * @param path the sources file
 * @param flagArgs the `--source`/`--streams` texts, which come first
 * @returns every source, the flags' first
 * @throws {SourcesFileError} when the file cannot be read or a line is bad (an id defined
 *   twice names both places)
 */
export async function loadSources(
  path: string,
  flagArgs: readonly SourceArg[],
): Promise<{ specs: SourceSpec[]; fileLines: number; unnamedLines: number }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    // Deno's message repeats the path and the OS's code ("(os error 2): readfile 'x'").
    const why = err instanceof Deno.errors.NotFound
      ? "it does not exist"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : err instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : (err as Error).message;
    throw new SourcesFileError(path, [`Cannot read sources file ${path}: ${why}`], {
      cause: err,
    });
  }
  const fileArgs = parseSourcesText(path, text);
  const { sources, problems } = resolveSourceArgs([...flagArgs, ...fileArgs]);
  if (problems.length > 0) throw new SourcesFileError(path, problems);
  const unnamedLines = fileArgs.filter((a) => splitSourceArg(a.text).id === null).length;
  return { specs: sources, fileLines: fileArgs.length, unnamedLines };
}

/** Options of {@linkcode watchSourcesFile}. */
export interface WatchSourcesFileOptions {
  /** Quiet time after the last change before acting, ms. @default {500} */
  quietMs?: number;
  /**
   * How often the file is also checked by its size, time and inode, ms: this sees what file
   * events miss (a folder deleted and made again, a link to a file in another folder, network
   * file systems). @default {2000}
   */
  pollMs?: number;
}

/** A running watch of the sources file. */
export interface SourcesFileWatch {
  /** Stops watching. */
  stop(): void;
  /** Records the file as it is now as seen (a reload read it), so it triggers no reload again. */
  markSeen(): void;
}

/** What identifies the file's content cheaply: its size, time and inode (through links). */
function signature(path: string): string {
  try {
    const info = Deno.statSync(path);
    // The content too: an edit can keep the size, the mtime (a second's resolution, or set
    // back) and the inode.
    const content = info.isFile && info.size <= 1 << 20 ? fnv1a(Deno.readFileSync(path)) : 0;
    return `${info.size}:${info.mtime?.getTime() ?? 0}:${info.ino ?? 0}:${content}`;
  } catch {
    return "missing";
  }
}

/** The 32-bit FNV-1a hash of `bytes`. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash) || "/";
}

/**
 * Calls `onChange` once the file at `path` has changed and then been quiet for `quietMs`. The
 * folder is watched, not the file, so a file replaced by a rename (editors, Kubernetes
 * ConfigMap updates) is seen too; where `path` is a link, the target's folder is watched as well;
 * and a check every `pollMs` sees what file events miss.
 */
export function watchSourcesFile(
  path: string,
  onChange: () => void,
  options: WatchSourcesFileOptions = {},
): SourcesFileWatch {
  const quietMs = options.quietMs ?? 500;
  let seen = signature(path);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const fire = () => {
    timer = undefined;
    if (closed) return;
    const now = signature(path);
    if (now === seen) return;
    seen = now;
    onChange();
  };
  const schedule = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(fire, quietMs);
  };
  const names = new Set([path.slice(path.lastIndexOf("/") + 1), "..data"]);
  const folders = new Set([folderOf(path)]);
  try {
    const real = Deno.realPathSync(path);
    folders.add(folderOf(real));
    names.add(real.slice(real.lastIndexOf("/") + 1));
  } catch {
    // Not there yet: the check by polling finds it when it comes.
  }
  const watchers: Deno.FsWatcher[] = [];
  for (const folder of folders) {
    try {
      const watcher = Deno.watchFs(folder, { recursive: false });
      watchers.push(watcher);
      (async () => {
        try {
          for await (const event of watcher) {
            if (event.paths.some((p) => names.has(p.slice(p.lastIndexOf("/") + 1)))) schedule();
          }
        } catch {
          // The watcher was closed, or its folder went away: the polling goes on.
        }
      })();
    } catch {
      // The folder cannot be watched (gone, no permission): the polling goes on.
    }
  }
  const poll = setInterval(() => {
    if (timer === undefined && signature(path) !== seen) schedule();
  }, options.pollMs ?? 2000);
  return {
    stop: () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      clearInterval(poll);
      for (const watcher of watchers) {
        try {
          watcher.close();
        } catch {
          // Already closed.
        }
      }
    },
    markSeen: () => {
      seen = signature(path);
    },
  };
}
