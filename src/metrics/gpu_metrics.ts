// The GPU metrics: per-device gauges that exist only once a GPU has been read, and the poller's own health.

import client from "prom-client";
import {
  GPU_INFO,
  GPU_POLL_ERROR_REASONS,
  type MetricDefinition,
  POSE_GPU_GARBAGE_LINES_TOTAL,
  POSE_GPU_MEMORY_EXPORTER_BYTES,
  POSE_GPU_MEMORY_TOTAL_BYTES,
  POSE_GPU_POLL_DURATION_SECONDS,
  POSE_GPU_POLL_ERRORS_TOTAL,
  POSE_GPU_POLL_SUCCESS,
  POSE_GPU_SESSION_NEEDED_BYTES,
  POSE_GPU_WORKING_BATCH_SHAPE,
  POSE_SOLVER_ACTIONS_TOTAL,
  SOLVER_OUTCOMES,
  VRAM_FRAGMENTATION_RATIO,
  VRAM_USAGE_MB,
} from "./definitions.ts";

const MIB = 1024 * 1024;

function gauge(d: MetricDefinition): client.Gauge {
  return new client.Gauge({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [] });
}

function counter(d: MetricDefinition): client.Counter {
  return new client.Counter({
    name: d.name,
    help: d.help,
    labelNames: [...d.labels],
    registers: [],
  });
}

/** A GPU's figures from one poll. */
export interface DeviceFigures {
  deviceId: string;
  uuid: string | null;
  name: string | null;
  usedMiB: number | null;
  totalMiB: number | null;
}

/**
 * GPU metrics in the exporter's registry. The poller's health series are registered at once;
 * the per-device ones only with the first successful reading, so a host without a GPU
 * exports no `vram_*` series at all.
 */
export class GpuMetrics {
  readonly pollSuccess = gauge(POSE_GPU_POLL_SUCCESS);
  readonly pollDuration = gauge(POSE_GPU_POLL_DURATION_SECONDS);
  readonly pollErrors = counter(POSE_GPU_POLL_ERRORS_TOTAL);
  readonly garbageLines = counter(POSE_GPU_GARBAGE_LINES_TOTAL);
  readonly solverActions = counter(POSE_SOLVER_ACTIONS_TOTAL);
  readonly vramUsage = gauge(VRAM_USAGE_MB);
  readonly fragmentation = gauge(VRAM_FRAGMENTATION_RATIO);
  readonly memoryTotal = gauge(POSE_GPU_MEMORY_TOTAL_BYTES);
  readonly memoryExporter = gauge(POSE_GPU_MEMORY_EXPORTER_BYTES);
  readonly sessionNeeded = gauge(POSE_GPU_SESSION_NEEDED_BYTES);
  readonly workingShape = gauge(POSE_GPU_WORKING_BATCH_SHAPE);
  readonly info = gauge(GPU_INFO);
  #registry: client.Registry;
  #deviceSeriesRegistered = false;
  #exporterSeriesRegistered = false;
  #known = new Map<string, { uuid: string; name: string }>();

  constructor(registry: client.Registry) {
    this.#registry = registry;
    for (
      const m of [
        this.pollSuccess,
        this.pollDuration,
        this.pollErrors,
        this.garbageLines,
        this.solverActions,
      ]
    ) {
      registry.registerMetric(m);
    }
    for (const reason of GPU_POLL_ERROR_REASONS) this.pollErrors.inc({ reason }, 0);
    this.garbageLines.inc(0);
    for (const outcome of SOLVER_OUTCOMES) this.solverActions.inc({ kind: "rebuild", outcome }, 0);
  }

  /** Updates the per-device series from one poll; devices that vanished lose their series. */
  setDevices(devices: DeviceFigures[]): void {
    if (!this.#deviceSeriesRegistered && devices.length > 0) {
      for (const m of [this.vramUsage, this.memoryTotal, this.info]) {
        this.#registry.registerMetric(m);
      }
      this.#deviceSeriesRegistered = true;
    }
    const seen = new Set<string>();
    for (const d of devices) {
      seen.add(d.deviceId);
      const labels = { device_id: d.deviceId };
      if (d.usedMiB !== null) this.vramUsage.set(labels, d.usedMiB);
      else this.vramUsage.remove(labels);
      if (d.totalMiB !== null) this.memoryTotal.set(labels, d.totalMiB * MIB);
      const infoLabels = { uuid: d.uuid ?? "", name: d.name ?? "" };
      const known = this.#known.get(d.deviceId);
      if (known && (known.uuid !== infoLabels.uuid || known.name !== infoLabels.name)) {
        this.info.remove({ device_id: d.deviceId, ...known });
      }
      this.info.set({ device_id: d.deviceId, ...infoLabels }, 1);
      this.#known.set(d.deviceId, infoLabels);
    }
    for (const [deviceId, known] of [...this.#known]) {
      if (seen.has(deviceId)) continue;
      this.vramUsage.remove({ device_id: deviceId });
      this.memoryTotal.remove({ device_id: deviceId });
      this.memoryExporter.remove({ device_id: deviceId });
      this.fragmentation.remove({ device_id: deviceId });
      this.info.remove({ device_id: deviceId, ...known });
      this.#known.delete(deviceId);
    }
  }

  /** Sets the exporter's own figures on its device. */
  setExporter(
    deviceId: string,
    figures: { usedMiB: number | null; ratio: number | null; workingShape: number | null },
  ): void {
    if (!this.#exporterSeriesRegistered) {
      this.#exporterSeriesRegistered = true;
      for (
        const m of [this.memoryExporter, this.fragmentation, this.sessionNeeded, this.workingShape]
      ) {
        this.#registry.registerMetric(m);
      }
    }
    const labels = { device_id: deviceId };
    if (figures.usedMiB !== null) this.memoryExporter.set(labels, figures.usedMiB * MIB);
    if (figures.ratio !== null) this.fragmentation.set(labels, figures.ratio);
    if (figures.workingShape !== null) this.workingShape.set(labels, figures.workingShape);
  }

  /** Publishes needed[shape]. */
  setNeeded(deviceId: string, shape: number, mib: number): void {
    this.sessionNeeded.set({ device_id: deviceId, batch_shape: String(shape) }, mib * MIB);
  }
}
