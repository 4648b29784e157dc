// Children that outlive a hangup. A SIGHUP sent to the exporter's whole process group (a
// terminal's hangup, GNU timeout passing a signal on, `kill -HUP -- -PGID`) reloads the exporter;
// without this it also killed every ffmpeg child (ffmpeg keeps SIGHUP's default action). A child
// started through /bin/sh with SIGHUP ignored keeps it ignored across exec, so it runs on.

const SHELL = "/bin/sh";
/** Runs `$0 "$@"` with SIGHUP ignored; `exec` keeps the child's pid, so it is killed as before. */
const IGNORE_HUP = 'trap "" HUP; exec "$0" "$@"';

let shellExists: boolean | null = null;

function hasShell(): boolean {
  try {
    return Deno.statSync(SHELL).isFile;
  } catch {
    return false;
  }
}

/**
 * A command line for `Deno.Command` that runs `command args` with SIGHUP ignored: through
 * /bin/sh where it exists (the pid is the command's own, exec replaces the shell), else as is.
 *
 * @example
 * ```ts
 * const { command, args } = hangupImmune("ffmpeg", ["-i", "cam.mp4", "-f", "null", "-"]);
 * new Deno.Command(command, { args }).spawn();
 * ```
 */
export function hangupImmune(
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  shellExists ??= hasShell();
  if (!shellExists) return { command, args: [...args] };
  return { command: SHELL, args: ["-c", IGNORE_HUP, command, ...args] };
}
