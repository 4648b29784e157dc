// The doctor's one way to read JSON answers (Grafana's, Prometheus', a dashboard): by key, as
// `unknown` narrowed at each step, so a missing or odd field reads as undefined instead of throwing.

/** A parsed JSON document, or any part of it: unknown until a helper below narrows it. */
export type Json = unknown;

/**
 * The value at `path` inside `value`: each step an object's key (or an array's index).
 *
 * @example
 * ```ts
 * import { jsonAt } from "./json.ts";
 * jsonAt({ data: { result: [1] } }, "data", "result"); // [1]
 * jsonAt({ data: null }, "data", "result"); // undefined
 * ```
 *
 * @param value the document
 * @param path the keys, outermost first
 * @returns the value, or undefined where a step finds no object or no such key
 */
export function jsonAt(value: Json, ...path: readonly (string | number)[]): Json {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<string | number, Json>)[key];
  }
  return at;
}

/**
 * The value as an array.
 *
 * @param value a part of a document
 * @returns the array, or [] when it is not one
 */
export function jsonArray(value: Json): readonly Json[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The value as a string.
 *
 * @param value a part of a document
 * @returns the string, or undefined when it is not one
 */
export function jsonString(value: Json): string | undefined {
  return typeof value === "string" ? value : undefined;
}
