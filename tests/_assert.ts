// Assertions for the tests, on node:assert/strict (std's assert is on JSR, out of reach here).

import assertModule from "node:assert/strict";

/** Fails with `message` unless `condition` holds. */
export function assert(condition: unknown, message?: string): asserts condition {
  assertModule.ok(condition, message);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assertModule.deepStrictEqual(actual, expected, message);
}

/** Fails unless `fn` throws an instance of `errorClass` (whose message includes `includes`). */
export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any -- any constructor of an Error subclass
  errorClass: new (...args: any[]) => Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (err) {
    assert(err instanceof errorClass, `expected ${errorClass.name}, got ${String(err)}`);
    if (includes) assert(err.message.includes(includes), `"${err.message}" lacks "${includes}"`);
    return err;
  }
  throw new Error(`expected ${errorClass.name} to be thrown`);
}

/** Like {@linkcode assertThrows} for a promise. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any -- any constructor of an Error subclass
  errorClass: new (...args: any[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof errorClass, `expected ${errorClass.name}, got ${String(err)}`);
    if (includes) assert(err.message.includes(includes), `"${err.message}" lacks "${includes}"`);
    return err;
  }
  throw new Error(`expected ${errorClass.name} to be rejected`);
}

/** Fails unless |actual - expected| <= tolerance. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  message?: string,
): void {
  assert(
    Math.abs(actual - expected) <= tolerance,
    message ?? `${actual} is not within ${tolerance} of ${expected}`,
  );
}
