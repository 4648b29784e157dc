// The process metrics that prom-client's Node.js collectors cannot read under Deno (they serve 0):
// memory and file descriptors from /proc/self, read through the C library, as Prometheus' own
// process collector defines them.

import client from "prom-client";
import { countProcEntries, libcAvailable, readProcFile } from "../host/libc.ts";

/** prom-client's collectors that read nothing under Deno, replaced by {@linkcode registerProcessMetrics}. */
export const PROCESS_METRICS_REPLACED = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
] as const;

/** `VmRSS`, `VmSize` and `VmData` of /proc/self/status, in bytes. */
export function parseProcStatus(text: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const match = /^(Vm\w+):\s+(\d+) kB$/.exec(line.trim());
    if (match) values[match[1]!] = Number(match[2]) * 1024;
  }
  return values;
}

/** The soft "Max open files" of /proc/self/limits (Infinity for unlimited), or null. */
export function parseMaxOpenFiles(text: string): number | null {
  const match = /^Max open files\s+(\S+)/m.exec(text);
  if (!match) return null;
  return match[1] === "unlimited" ? Infinity : Number(match[1]);
}

/**
 * Replaces prom-client's process memory and file descriptor gauges in `registry` with ones that
 * read /proc/self. Where the C library cannot be used they are left out, rather than served as 0.
 */
export function registerProcessMetrics(registry: client.Registry): void {
  for (const name of PROCESS_METRICS_REPLACED) registry.removeSingleMetric(name);
  if (!libcAvailable()) return;
  const gauge = (name: string, help: string, collect?: () => void) =>
    new client.Gauge({ name, help, registers: [registry], collect });
  // Each reads /proc/self/status itself: a scrape renders them one after the other.
  const fromStatus = (name: string, help: string, field: string) =>
    gauge(name, help, function (this: client.Gauge) {
      const status = readProcFile("/proc/self/status");
      const value = status === null ? undefined : parseProcStatus(status)[field];
      if (value !== undefined) this.set(value);
    });
  fromStatus("process_resident_memory_bytes", "Resident memory size in bytes.", "VmRSS");
  fromStatus("process_virtual_memory_bytes", "Virtual memory size in bytes.", "VmSize");
  fromStatus("process_heap_bytes", "Process heap size in bytes.", "VmData");
  gauge("process_open_fds", "Number of open file descriptors.", function (this: client.Gauge) {
    const count = countProcEntries("/proc/self/fd", { selfFd: true });
    if (count !== null) this.set(count);
  });
  gauge(
    "process_max_fds",
    "Maximum number of open file descriptors.",
    function (this: client.Gauge) {
      const limits = readProcFile("/proc/self/limits");
      const max = limits === null ? null : parseMaxOpenFiles(limits);
      if (max !== null && Number.isFinite(max)) this.set(max);
    },
  );
}
