// The few words that say why a file could not be read, one wording for every message that says so.

/** Why a file could not be read: "no such file", "permission denied", or the error's message. */
export function readFailure(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return (err as Error).message;
}
