// Parses nvidia-smi's CSV output (with or without header and units) into typed readings.

/** The GPU fields the exporter asks nvidia-smi for, in this order. */
export const GPU_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "memory.used",
  "memory.free",
  "memory.reserved",
  "utilization.gpu",
] as const;

/** The compute-process fields the exporter asks nvidia-smi for, in this order. */
export const APP_FIELDS = ["pid", "gpu_uuid", "used_memory"] as const;

/** One GPU as nvidia-smi reports it; a field it could not read is null. */
export interface GpuReading {
  /** The index nvidia-smi prints ("0", "1", ...): the `device_id` label. */
  index: string;
  uuid: string | null;
  name: string | null;
  totalMiB: number | null;
  usedMiB: number | null;
  freeMiB: number | null;
  reservedMiB: number | null;
  utilizationPercent: number | null;
}

/** One process holding GPU memory. */
export interface ComputeApp {
  pid: number;
  gpuUuid: string;
  /** Memory the process holds, MiB, or null when nvidia-smi cannot say (`[N/A]`). */
  usedMiB: number | null;
}

/** What a parse found: the rows, and the lines it could not read. */
export interface ParseResult<T> {
  rows: T[];
  /** Lines that were neither a header nor a well-formed row. */
  garbage: string[];
  /** nvidia-smi said "No devices were found". */
  noDevices: boolean;
}

const MISSING =
  /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU requires reset)\]?$/i;

/** A value as text without unit, or null for `[N/A]`, `[Not Supported]` and the like. */
export function cleanValue(raw: string): string | null {
  const value = raw.trim();
  if (value === "" || MISSING.test(value)) return null;
  return value;
}

/** A number with its unit stripped (`143771 MiB`, `37 %`, `186.95 W`), or null. */
export function numberValue(raw: string): number | null {
  const value = cleanValue(raw);
  if (value === null) return null;
  const match = /^(-?\d+(?:\.\d+)?)(?:\s*(?:MiB|%|W|C))?$/.exec(value);
  return match ? Number(match[1]) : NaN;
}

function splitCsv(line: string): string[] {
  return line.split(",").map((f) => f.trim());
}

/** Field name of a header cell: `memory.total [MiB]` -> `memory.total`. */
function headerField(cell: string): string {
  return cell.replace(/\s*\[[^\]]*\]\s*$/, "").trim();
}

/**
 * Parses CSV rows whose columns are `fields` in order. A header line (as `--format=csv`
 * prints) is recognised and its column order used instead; units are stripped either way.
 * A row with the wrong number of columns or an unreadable number is garbage, not an error.
 */
export function parseCsvRows<T>(
  text: string,
  fields: readonly string[],
  build: (get: (field: string) => string) => T | null,
): ParseResult<T> {
  const result: ParseResult<T> = { rows: [], garbage: [], noDevices: false };
  let columns = [...fields];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (line === "") continue;
    if (/no devices were found/i.test(line)) {
      result.noDevices = true;
      continue;
    }
    const cells = splitCsv(line);
    if (
      cells.map(headerField).includes(fields[0]!) &&
      cells.every((c) => /^[a-z_.]+(\s*\[.*\])?$/i.test(c))
    ) {
      columns = cells.map(headerField);
      continue;
    }
    if (cells.length !== columns.length) {
      result.garbage.push(line);
      continue;
    }
    const byField = new Map(columns.map((c, i) => [c, cells[i]!]));
    const row = build((field) => byField.get(field) ?? "");
    if (row === null) result.garbage.push(line);
    else result.rows.push(row);
  }
  return result;
}

/** Parses `--query-gpu` output asked with {@linkcode GPU_FIELDS} (any subset with `index`). */
export function parseGpuCsv(
  text: string,
  fields: readonly string[] = GPU_FIELDS,
): ParseResult<GpuReading> {
  return parseCsvRows(text, fields, (get) => {
    const index = cleanValue(get("index"));
    if (index === null || !/^\d+$/.test(index)) return null;
    const reading: GpuReading = {
      index,
      uuid: cleanValue(get("uuid")),
      name: cleanValue(get("name")),
      totalMiB: numberValue(get("memory.total")),
      usedMiB: numberValue(get("memory.used")),
      freeMiB: numberValue(get("memory.free")),
      reservedMiB: numberValue(get("memory.reserved")),
      utilizationPercent: numberValue(get("utilization.gpu")),
    };
    const numbers = [
      reading.totalMiB,
      reading.usedMiB,
      reading.freeMiB,
      reading.reservedMiB,
      reading.utilizationPercent,
    ];
    return numbers.some((n) => Number.isNaN(n)) ? null : reading;
  });
}

/** Parses `--query-compute-apps` output asked with {@linkcode APP_FIELDS}. */
export function parseAppsCsv(
  text: string,
  fields: readonly string[] = APP_FIELDS,
): ParseResult<ComputeApp> {
  return parseCsvRows(text, fields, (get) => {
    const pid = Number(cleanValue(get("pid")));
    const gpuUuid = cleanValue(get("gpu_uuid"));
    const usedMiB = numberValue(get("used_memory"));
    if (!Number.isInteger(pid) || pid <= 0 || gpuUuid === null || Number.isNaN(usedMiB)) {
      return null;
    }
    return { pid, gpuUuid, usedMiB };
  });
}
