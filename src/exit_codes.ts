// The exit codes of pose-exporter and its subcommands.

/** 0: done; 1: could not start, lost results, or a check failed; 2: bad flags or input. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
