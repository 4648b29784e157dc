// The sources file (--sources-file): one `[ID=]URI` per line, read at start and on each reload,
// and watched so that an edit is picked up once the file has been quiet for a moment.

import { resolveSourceArgs, type SourceArg, type SourceSpec } from "./source_uri.ts";

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
): Promise<{ specs: SourceSpec[]; fileLines: number }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new SourcesFileError(path, [
      `Cannot read sources file ${path}: ${(err as Error).message}`,
    ], {
      cause: err,
    });
  }
  const fileArgs = parseSourcesText(path, text);
  const { sources, problems } = resolveSourceArgs([...flagArgs, ...fileArgs]);
  if (problems.length > 0) throw new SourcesFileError(path, problems);
  return { specs: sources, fileLines: fileArgs.length };
}

/** Options of {@linkcode watchSourcesFile}. */
export interface WatchSourcesFileOptions {
  /** Quiet time after the last change before acting, ms. @default {500} */
  quietMs?: number;
}

/**
 * Calls `onChange` once the file at `path` has changed and then been quiet for `quietMs`.
 * The folder is watched, not the file, so a file replaced by a rename (editors, Kubernetes
 * ConfigMap updates) is seen too.
 *
 * @returns a function that stops watching
 */
export function watchSourcesFile(
  path: string,
  onChange: () => void,
  options: WatchSourcesFileOptions = {},
): () => void {
  const quietMs = options.quietMs ?? 500;
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const name = path.slice(slash + 1);
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  (async () => {
    try {
      for await (const event of watcher) {
        // A ConfigMap volume swaps a `..data` link; an editor may write a temporary file first.
        const relevant = event.paths.some((p) => {
          const base = p.slice(p.lastIndexOf("/") + 1);
          return base === name || base === "..data";
        });
        if (!relevant) continue;
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(() => {
          timer = undefined;
          if (!closed) onChange();
        }, quietMs);
      }
    } catch {
      // The watcher was closed.
    }
  })();
  return () => {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    try {
      watcher.close();
    } catch {
      // Already closed.
    }
  };
}
