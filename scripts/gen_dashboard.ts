// Writes config/grafana_dashboard.json (run: deno task gen-dashboard). The panels are data here,
// so each query is written once; tests run every one of them against a real Prometheus.

/** The provisioned datasource (config/grafana/provisioning): the `datasource` variable's default. */
export const DATASOURCE = { type: "prometheus", uid: "prometheus_ds" } as const;

/**
 * What every panel, target, variable and annotation names: the `datasource` variable, so that the
 * dashboard imports into any Grafana (the user picks a Prometheus there), as Grafana's dashboard
 * linter wants.
 */
export const DATASOURCE_REF = { type: "prometheus", uid: "${datasource}" } as const;

/** Label matchers of the dashboard variables: `job` and `instance` in every selector. */
const I = `job=~"$job", instance=~"$instance"`;
const S = `stream_id=~"$stream"`;
const D = `device_id=~"$device"`;

interface Target {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  description: string;
  type: "stat" | "timeseries" | "table" | "heatmap";
  unit: string;
  targets: Target[];
  width?: number;
  /** A threshold line drawn on a time series (value, color). */
  threshold?: { value: number; color: string };
  min?: number;
  max?: number;
}

interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/** The dashboard's rows and panels. */
export const ROWS: RowSpec[] = [
  {
    title: "Fleet at a glance",
    panels: [
      {
        title: "Total fps",
        description: "Frames per second decoded across the selected streams (pose_fps summed).",
        type: "stat",
        unit: "none",
        targets: [{ expr: `sum(pose_fps{${I}, ${S}})`, legend: "fps" }],
      },
      {
        title: "Streams up",
        description: "Streams delivering frames now (pose_stream_up).",
        type: "stat",
        unit: "none",
        targets: [{ expr: `sum(pose_stream_up{${I}, ${S}})`, legend: "up" }],
      },
      {
        title: "Streams down",
        description: "Streams not delivering frames now; see the per-stream rows for the reason.",
        type: "stat",
        unit: "none",
        targets: [{ expr: `sum(1 - pose_stream_up{${I}, ${S}})`, legend: "down" }],
      },
      {
        title: "Worst p99 latency",
        description:
          "The highest per-stream p99 end-to-end latency (pixels read to poses decoded).",
        type: "stat",
        unit: "ms",
        targets: [{ expr: `max(pose_latency_ms{${I}, ${S}, quantile="0.99"})`, legend: "p99" }],
      },
      {
        title: "VRAM used",
        description: "Device memory in use on the selected GPUs, as nvidia-smi reports it.",
        type: "stat",
        unit: "mbytes",
        targets: [{ expr: `sum(vram_usage_mb{${I}, ${D}})`, legend: "used" }],
      },
    ],
  },
  {
    title: "Per stream",
    panels: [
      {
        title: "FPS per stream",
        description: "Frames per second per stream over the exporter's sliding window (pose_fps).",
        type: "timeseries",
        unit: "none",
        targets: [{ expr: `pose_fps{${I}, ${S}}`, legend: "{{stream_id}}" }],
      },
      {
        title: "Latency quantiles (summary)",
        description:
          "p50, p90 and p99 end-to-end latency per stream over the last 60 s, from the pose_latency_ms summary.",
        type: "timeseries",
        unit: "ms",
        targets: [{ expr: `pose_latency_ms{${I}, ${S}}`, legend: "{{stream_id}} p{{quantile}}" }],
      },
      {
        title: "Latency quantiles (histogram)",
        description:
          "p50, p90 and p99 latency per stream from the pose_latency_seconds histogram (aggregatable across instances).",
        type: "timeseries",
        unit: "ms",
        targets: [0.5, 0.9, 0.99].map((q) => ({
          expr:
            `1000 * histogram_quantile(${q}, sum by (le, stream_id) (rate(pose_latency_seconds_bucket{${I}, ${S}}[$__rate_interval])))`,
          legend: `{{stream_id}} p${q * 100}`,
        })),
      },
      {
        title: "Time per pipeline stage",
        description:
          "p50 and p99 seconds a frame spends in each stage (pose_stage_latency_seconds, all streams): " +
          "source (reading/decoding), queue (waiting for its batch), handoff (between threads), " +
          "inference, postprocess (decoding and NMS), sink (results and metrics). The stage " +
          "with the highest line is where latency goes.",
        type: "timeseries",
        unit: "s",
        targets: [0.5, 0.99].map((q) => ({
          expr:
            `histogram_quantile(${q}, sum by (le, stage) (rate(pose_stage_latency_seconds_bucket{${I}}[$__rate_interval])))`,
          legend: `{{stage}} p${q * 100}`,
        })),
      },
      {
        title: "Drops by reason",
        description:
          "Frames dropped per second, by stream and reason (queue_full: the stream fell behind).",
        type: "timeseries",
        unit: "none",
        targets: [{
          expr:
            `sum by (stream_id, reason) (rate(pose_frames_dropped_total{${I}, ${S}}[$__rate_interval]))`,
          legend: "{{stream_id}} {{reason}}",
        }],
      },
      {
        title: "Persons per frame",
        description: "Persons detected in each stream's latest frame.",
        type: "timeseries",
        unit: "none",
        targets: [{ expr: `pose_persons{${I}, ${S}}`, legend: "{{stream_id}}" }],
      },
      {
        title: "Stream failures by reason",
        description:
          "Times a stream went down, by reason, over the interval (exited, eof, stalled, unreadable, decode_error).",
        type: "timeseries",
        unit: "none",
        targets: [{
          expr:
            `sum by (stream_id, reason) (increase(pose_stream_failures_total{${I}, ${S}}[$__rate_interval]))`,
          legend: "{{stream_id}} {{reason}}",
        }],
      },
    ],
  },
  {
    title: "Inference",
    panels: [
      {
        title: "Average batch size",
        description: "Frames per model run (before padding to the batch shape).",
        type: "timeseries",
        unit: "none",
        targets: [{
          expr:
            `sum(rate(pose_batch_size_sum{${I}}[$__rate_interval])) / sum(rate(pose_batch_size_count{${I}}[$__rate_interval]))`,
          legend: "frames per batch",
        }],
      },
      {
        title: "Inference time",
        description: "p50 and p99 duration of one model run over a batch.",
        type: "timeseries",
        unit: "ms",
        targets: [0.5, 0.99].map((q) => ({
          expr:
            `1000 * histogram_quantile(${q}, sum by (le) (rate(pose_inference_duration_seconds_bucket{${I}}[$__rate_interval])))`,
          legend: `p${q * 100}`,
        })),
      },
      {
        title: "Queue depth",
        description: "Frames of each stream waiting for a batch.",
        type: "timeseries",
        unit: "none",
        targets: [{ expr: `pose_queue_depth{${I}, ${S}}`, legend: "{{stream_id}}" }],
      },
      {
        title: "Provider and model",
        description: "Execution provider (cuda or cpu), model and version of each exporter.",
        type: "table",
        unit: "none",
        targets: [{
          expr: `pose_exporter_info{${I}}`,
          legend: "{{instance}} {{provider}} {{model}}",
        }],
      },
    ],
  },
  {
    title: "People (tracking)",
    panels: [
      {
        title: "People now",
        description:
          "People in view across the selected streams: tracks that matched a person in each stream's latest frame (pose_tracks_active summed).",
        type: "stat",
        unit: "none",
        width: 6,
        targets: [{ expr: `sum(pose_tracks_active{${I}, ${S}})`, legend: "people" }],
      },
      {
        title: "People in view per stream",
        description:
          "Tracked people in view per stream (pose_tracks_active); a track that is briefly lost (occlusion) is not counted until it is found again.",
        type: "timeseries",
        unit: "none",
        width: 18,
        targets: [{ expr: `pose_tracks_active{${I}, ${S}}`, legend: "{{stream_id}}" }],
      },
      {
        title: "People arriving",
        description:
          "New tracks per minute per stream (pose_tracks_started_total): people entering the view, and ids a lost person could not get back.",
        type: "timeseries",
        unit: "cpm",
        targets: [{
          expr:
            `60 * sum by (stream_id) (rate(pose_tracks_started_total{${I}, ${S}}[$__rate_interval]))`,
          legend: "{{stream_id}}",
        }],
      },
      {
        title: "Time in view",
        description:
          "p50, p90 and p99 of how long people stayed in view (first to last detection of each ended track, all streams: pose_track_duration_seconds); no line while nobody left.",
        type: "timeseries",
        unit: "s",
        targets: [0.5, 0.9, 0.99].map((q) => ({
          expr:
            `histogram_quantile(${q}, sum by (le) (rate(pose_track_duration_seconds_bucket{${I}}[$__rate_interval])))`,
          legend: `p${q * 100}`,
        })),
      },
      {
        title: "Time in view (heatmap)",
        description:
          "Tracks that ended per interval by how long they lasted, from a second to hours (pose_track_duration_seconds buckets).",
        type: "heatmap",
        unit: "s",
        width: 24,
        targets: [{
          expr:
            `sum by (le) (increase(pose_track_duration_seconds_bucket{${I}}[$__rate_interval]))`,
          legend: "{{le}}",
        }],
      },
    ],
  },
  {
    title: "GPU",
    panels: [
      {
        title: "VRAM used vs total",
        description: "Device memory in use and the device's total, per GPU.",
        type: "timeseries",
        unit: "mbytes",
        targets: [
          { expr: `vram_usage_mb{${I}, ${D}}`, legend: "GPU {{device_id}} used" },
          {
            expr: `pose_gpu_memory_total_bytes{${I}, ${D}} / 1048576`,
            legend: "GPU {{device_id}} total",
          },
        ],
      },
      {
        title: "Exporter VRAM",
        description:
          "Device memory the exporter itself holds, against what a fresh session at each batch shape needs.",
        type: "timeseries",
        unit: "mbytes",
        targets: [
          {
            expr: `pose_gpu_memory_exporter_bytes{${I}, ${D}} / 1048576`,
            legend: "GPU {{device_id}} exporter",
          },
          {
            expr: `pose_gpu_session_needed_bytes{${I}, ${D}} / 1048576`,
            legend: "GPU {{device_id}} needed at batch {{batch_shape}}",
          },
        ],
      },
      {
        title: "Fragmentation ratio",
        description:
          "Share of the exporter's VRAM its working batch shape does not need; the red line is the solver's trigger (0.20).",
        type: "timeseries",
        unit: "percentunit",
        min: 0,
        max: 1,
        threshold: { value: 0.2, color: "red" },
        targets: [{ expr: `vram_fragmentation_ratio{${I}, ${D}}`, legend: "GPU {{device_id}}" }],
      },
      {
        title: "Solver actions",
        description:
          "Fragmentation solver actions over the interval, by outcome (done, ineffective, skipped_no_room, ...).",
        type: "timeseries",
        unit: "none",
        targets: [{
          expr: `sum by (outcome) (increase(pose_solver_actions_total{${I}}[$__rate_interval]))`,
          legend: "{{outcome}}",
        }],
      },
    ],
  },
];

/** A query variable: multi-select with "All" (`allValue`: `.+` for job and instance, the linter's). */
function variable(name: string, label: string, query: string, allValue = ".*") {
  return {
    name,
    label,
    type: "query",
    datasource: DATASOURCE_REF,
    definition: query,
    query: { query, refId: `${name}-var` },
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue,
    current: { selected: true, text: ["All"], value: ["$__all"] },
    sort: 1,
  };
}

/** The datasource variable: any Prometheus, the provisioned one by default. */
function datasourceVariable() {
  return {
    name: "datasource",
    label: "Data source",
    type: "datasource",
    query: "prometheus",
    regex: "",
    refresh: 1,
    hide: 0,
    current: { selected: true, text: "Prometheus", value: DATASOURCE.uid },
  };
}

/** A panel's `options`: a table's header; a heatmap's buckets from the `le` labels, in seconds. */
function panelOptions(p: PanelSpec): Record<string, unknown> {
  if (p.type === "table") return { showHeader: true };
  if (p.type === "heatmap") {
    return {
      calculate: false,
      cellGap: 1,
      color: { mode: "scheme", scheme: "Oranges", steps: 64 },
      yAxis: { axisPlacement: "left", unit: p.unit },
      rowsFrame: { layout: "le" },
      tooltip: { mode: "single", yHistogram: false },
    };
  }
  return {};
}

/** Builds the dashboard JSON. */
export function buildDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      type: "row",
      title: row.title,
      id: id++,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      const w = p.width ?? (p.type === "stat" ? 24 / row.panels.length : 12);
      const h = p.type === "stat" ? 4 : p.type === "heatmap" ? 9 : 8;
      if (x + w > 24) {
        x = 0;
        y += h;
      }
      const thresholds = p.threshold
        ? {
          mode: "absolute",
          steps: [{ color: "green", value: null }, {
            color: p.threshold.color,
            value: p.threshold.value,
          }],
        }
        : { mode: "absolute", steps: [{ color: "green", value: null }] };
      panels.push({
        id: id++,
        type: p.type,
        title: p.title,
        description: p.description,
        datasource: DATASOURCE_REF,
        gridPos: { h, w, x, y },
        fieldConfig: {
          defaults: {
            unit: p.unit,
            ...(p.min !== undefined ? { min: p.min } : {}),
            ...(p.max !== undefined ? { max: p.max } : {}),
            thresholds,
            ...(p.type === "timeseries"
              ? {
                custom: {
                  thresholdsStyle: { mode: p.threshold ? "line" : "off" },
                  lineWidth: 1,
                  fillOpacity: 10,
                },
              }
              : {}),
          },
          overrides: [],
        },
        options: panelOptions(p),
        ...(p.type === "table" ? { transformations: [{ id: "labelsToFields", options: {} }] } : {}),
        targets: p.targets.map((t, i) => ({
          datasource: DATASOURCE_REF,
          expr: t.expr,
          legendFormat: t.legend,
          refId: String.fromCharCode(65 + i),
          ...(p.type === "table" ? { instant: true, format: "table" } : {}),
          ...(p.type === "heatmap" ? { format: "heatmap" } : {}),
        })),
      });
      x += w;
      if (x >= 24) {
        x = 0;
        y += h;
      }
    }
    if (x > 0) y += 8;
  }
  return {
    uid: "pose-exporter",
    title: "pose-exporter",
    description:
      "Pose estimation throughput, latency, drops, inference, people tracked and GPU memory, per exporter, stream and GPU.",
    tags: ["pose-exporter"],
    timezone: "browser",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: "5s",
    time: { from: "now-15m", to: "now" },
    templating: {
      list: [
        datasourceVariable(),
        variable("job", "Job", "label_values(pose_exporter_info, job)", ".+"),
        variable(
          "instance",
          "Instance",
          'label_values(pose_exporter_info{job=~"$job"}, instance)',
          ".+",
        ),
        variable("stream", "Stream", `label_values(pose_fps{${I}}, stream_id)`),
        variable("device", "GPU", `label_values(vram_usage_mb{${I}}, device_id)`),
      ],
    },
    annotations: {
      list: [
        {
          name: "Solver rebuilds",
          datasource: DATASOURCE_REF,
          enable: true,
          iconColor: "orange",
          expr: `changes(pose_solver_actions_total{${I}, outcome="done"}[1m]) > 0`,
          titleFormat: "Fragmentation solver rebuilt the session",
          textFormat: "{{instance}}",
          step: "15s",
        },
      ],
    },
    panels,
  };
}

if (import.meta.main) {
  const path = new URL("../config/grafana_dashboard.json", import.meta.url);
  await Deno.writeTextFile(path, JSON.stringify(buildDashboard(), null, 2) + "\n");
  console.log("wrote config/grafana_dashboard.json");
}
