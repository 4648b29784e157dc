// Every metric name the exporter serves, with its type, help and labels: the one place they are spelled.

/** Prometheus metric types used here. */
export type MetricType = "gauge" | "counter" | "summary" | "histogram";

/** What a metric is: its name, type, help and label names. */
export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
}

// The four contract metrics: names, types and labels are fixed (README, "Metrics").

/** Frames per second completed per stream over a short sliding window. */
export const POSE_FPS = {
  name: "pose_fps",
  type: "gauge",
  help: "Frames per second whose poses were decoded, per stream, over a sliding window",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** End-to-end latency of a frame in ms, pixels read to poses decoded, quantiles over a window. */
export const POSE_LATENCY_MS = {
  name: "pose_latency_ms",
  type: "summary",
  help: "End-to-end frame latency in milliseconds, from pixels read to poses decoded",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Device memory in use on a GPU, MiB, as nvidia-smi reports it. */
export const VRAM_USAGE_MB = {
  name: "vram_usage_mb",
  type: "gauge",
  help: "Device memory in use on the GPU in MiB, as nvidia-smi reports memory.used",
  labels: ["device_id"],
} as const satisfies MetricDefinition;

/** Share of the exporter's device memory that its working batch shape does not need. */
export const VRAM_FRAGMENTATION_RATIO = {
  name: "vram_fragmentation_ratio",
  type: "gauge",
  help: "Share of the exporter's GPU memory its working batch shape does not need (0 none, 1 all)",
  labels: ["device_id"],
} as const satisfies MetricDefinition;

// Companions of the contract.

/** Frames whose poses were decoded. */
export const POSE_FRAMES_TOTAL = {
  name: "pose_frames_total",
  type: "counter",
  help: "Frames whose poses were decoded",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Frames dropped before inference, by reason. */
export const POSE_FRAMES_DROPPED_TOTAL = {
  name: "pose_frames_dropped_total",
  type: "counter",
  help: "Frames dropped without poses, by reason",
  labels: ["stream_id", "reason"],
} as const satisfies MetricDefinition;

/** Persons detected over all frames. */
export const POSE_PERSONS_DETECTED_TOTAL = {
  name: "pose_persons_detected_total",
  type: "counter",
  help: "Persons detected, summed over frames",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Persons in the latest decoded frame. */
export const POSE_PERSONS = {
  name: "pose_persons",
  type: "gauge",
  help: "Persons detected in the stream's latest decoded frame",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** End-to-end latency as a histogram in base units, aggregatable across instances. */
export const POSE_LATENCY_SECONDS = {
  name: "pose_latency_seconds",
  type: "histogram",
  help: "End-to-end frame latency in seconds, from pixels read to poses decoded",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Frames in each batch sent to the model. */
export const POSE_BATCH_SIZE = {
  name: "pose_batch_size",
  type: "histogram",
  help: "Frames per inference batch (before padding to the batch shape)",
  labels: [],
} as const satisfies MetricDefinition;

/** Time of one model run over a batch. */
export const POSE_INFERENCE_DURATION_SECONDS = {
  name: "pose_inference_duration_seconds",
  type: "histogram",
  help: "Duration of one model run over a batch, in seconds",
  labels: [],
} as const satisfies MetricDefinition;

/** Frames waiting for a batch, per stream. */
export const POSE_QUEUE_DEPTH = {
  name: "pose_queue_depth",
  type: "gauge",
  help: "Frames of the stream waiting for a batch",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Whether a stream is delivering frames (1) or not (0). */
export const POSE_STREAM_UP = {
  name: "pose_stream_up",
  type: "gauge",
  help: "Whether the stream is delivering frames (1) or not (0)",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Restarts of a stream's source after it went down. */
export const POSE_STREAM_RESTARTS_TOTAL = {
  name: "pose_stream_restarts_total",
  type: "counter",
  help: "Restarts of the stream's source after it went down",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Times a stream went down, by reason. */
export const POSE_STREAM_FAILURES_TOTAL = {
  name: "pose_stream_failures_total",
  type: "counter",
  help: "Times the stream went down, by reason",
  labels: ["stream_id", "reason"],
} as const satisfies MetricDefinition;

/** When the stream last delivered a frame, as Unix time. */
export const POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS = {
  name: "pose_stream_last_frame_timestamp_seconds",
  type: "gauge",
  help: "Unix time at which the stream last delivered a frame (0 before the first)",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Total device memory of a GPU, bytes. */
export const POSE_GPU_MEMORY_TOTAL_BYTES = {
  name: "pose_gpu_memory_total_bytes",
  type: "gauge",
  help: "Total device memory of the GPU in bytes, as nvidia-smi reports memory.total",
  labels: ["device_id"],
} as const satisfies MetricDefinition;

/** Device memory the exporter's own process holds, bytes. */
export const POSE_GPU_MEMORY_EXPORTER_BYTES = {
  name: "pose_gpu_memory_exporter_bytes",
  type: "gauge",
  help:
    "Device memory held by the exporter's own process in bytes (by pid, else device used minus baseline)",
  labels: ["device_id"],
} as const satisfies MetricDefinition;

/** needed[b]: what a fresh session warmed at batch shape b held, bytes. */
export const POSE_GPU_SESSION_NEEDED_BYTES = {
  name: "pose_gpu_session_needed_bytes",
  type: "gauge",
  help:
    "Device memory a fresh session warmed at this batch shape held, in bytes (the calibration table)",
  labels: ["device_id", "batch_shape"],
} as const satisfies MetricDefinition;

/** The largest batch shape run in the working window. */
export const POSE_GPU_WORKING_BATCH_SHAPE = {
  name: "pose_gpu_working_batch_shape",
  type: "gauge",
  help: "Largest batch shape run in the fragmentation window",
  labels: ["device_id"],
} as const satisfies MetricDefinition;

/** Constant 1 naming each GPU. */
export const GPU_INFO = {
  name: "gpu_info",
  type: "gauge",
  help: "Constant 1 with each GPU's uuid and name",
  labels: ["device_id", "uuid", "name"],
} as const satisfies MetricDefinition;

/** Whether the last nvidia-smi poll succeeded. */
export const POSE_GPU_POLL_SUCCESS = {
  name: "pose_gpu_poll_success",
  type: "gauge",
  help: "Whether the last nvidia-smi poll succeeded (1) or not (0)",
  labels: [],
} as const satisfies MetricDefinition;

/** Duration of the last nvidia-smi poll. */
export const POSE_GPU_POLL_DURATION_SECONDS = {
  name: "pose_gpu_poll_duration_seconds",
  type: "gauge",
  help: "Duration of the last nvidia-smi poll in seconds",
  labels: [],
} as const satisfies MetricDefinition;

/** Failed nvidia-smi polls by reason. */
export const POSE_GPU_POLL_ERRORS_TOTAL = {
  name: "pose_gpu_poll_errors_total",
  type: "counter",
  help: "Failed nvidia-smi polls, by reason",
  labels: ["reason"],
} as const satisfies MetricDefinition;

/** nvidia-smi output lines that could not be parsed. */
export const POSE_GPU_GARBAGE_LINES_TOTAL = {
  name: "pose_gpu_garbage_lines_total",
  type: "counter",
  help: "Lines of nvidia-smi output that could not be parsed and were skipped",
  labels: [],
} as const satisfies MetricDefinition;

/** Fragmentation solver actions by kind and outcome. */
export const POSE_SOLVER_ACTIONS_TOTAL = {
  name: "pose_solver_actions_total",
  type: "counter",
  help: "Fragmentation solver actions, by kind and outcome",
  labels: ["kind", "outcome"],
} as const satisfies MetricDefinition;

/** Constant 1 carrying the exporter's version, execution provider and model. */
export const POSE_EXPORTER_INFO = {
  name: "pose_exporter_info",
  type: "gauge",
  help: "Constant 1 with the exporter's version, execution provider and model",
  labels: ["version", "provider", "model"],
} as const satisfies MetricDefinition;

/** Constant 1 per stream, carrying where its video is decoded. */
export const POSE_STREAM_INFO = {
  name: "pose_stream_info",
  type: "gauge",
  help: "Constant 1 per stream with its decoder (nvdec or cpu)",
  labels: ["stream_id", "decoder"],
} as const satisfies MetricDefinition;

/** Time a frame spends in each pipeline stage, all streams together. */
export const POSE_STAGE_LATENCY_SECONDS = {
  name: "pose_stage_latency_seconds",
  type: "histogram",
  help: "Seconds a frame spends in each pipeline stage (source, queue, handoff, inference, " +
    "postprocess, sink, track), all streams together",
  labels: ["stage"],
} as const satisfies MetricDefinition;

/** Result lines that could not be written (disk full, file unwritable). */
export const POSE_RESULTS_LOST_TOTAL = {
  name: "pose_results_lost_total",
  type: "counter",
  help: "Result lines that could not be written to the --results file",
  labels: [],
} as const satisfies MetricDefinition;

/** Queued frames of streams removed at run time, dropped with their stream. */
export const POSE_REMOVED_STREAM_FRAMES_DROPPED_TOTAL = {
  name: "pose_removed_stream_frames_dropped_total",
  type: "counter",
  help: "Queued frames dropped because their stream was removed by a reload",
  labels: [],
} as const satisfies MetricDefinition;

/** Whether the last reload (sources file, results file) succeeded, as Prometheus exports it. */
export const POSE_CONFIG_RELOAD_SUCCESS = {
  name: "pose_config_reload_success",
  type: "gauge",
  help: "1 when the last reload of the sources file and results file succeeded, else 0",
  labels: [],
} as const satisfies MetricDefinition;

/** When the last successful reload happened. */
export const POSE_CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS = {
  name: "pose_config_last_reload_success_timestamp_seconds",
  type: "gauge",
  help: "Unix time of the last successful reload (the start counts as one)",
  labels: [],
} as const satisfies MetricDefinition;

/** Reloads that failed and changed nothing. */
export const POSE_CONFIG_RELOAD_FAILURES_TOTAL = {
  name: "pose_config_reload_failures_total",
  type: "counter",
  help: "Reloads refused (invalid sources file, results file not reopened); nothing changed",
  labels: [],
} as const satisfies MetricDefinition;

/** Metric families whose collection failed during a scrape (the rest was served). */
export const POSE_SCRAPE_COLLECT_ERRORS_TOTAL = {
  name: "pose_scrape_collect_errors_total",
  type: "counter",
  help: "Metric families left out of a scrape because collecting them failed, by family",
  labels: ["family"],
} as const satisfies MetricDefinition;

/** Connections the HTTP front holds now. */
export const POSE_HTTP_CONNECTIONS_OPEN = {
  name: "pose_http_connections_open",
  type: "gauge",
  help: "HTTP connections open now",
  labels: [],
} as const satisfies MetricDefinition;

/** Connections closed by the HTTP front before they were served to the end, by reason. */
export const POSE_HTTP_CONNECTIONS_CLOSED_TOTAL = {
  name: "pose_http_connections_closed_total",
  type: "counter",
  help: "HTTP connections the exporter closed on its own, by reason (refused over the limit, " +
    "headers or body too slow, idle, malformed request, failed TLS handshake)",
  labels: ["reason"],
} as const satisfies MetricDefinition;

/** Failures to accept a connection (file descriptors exhausted, ...); the server goes on. */
export const POSE_HTTP_ACCEPT_ERRORS_TOTAL = {
  name: "pose_http_accept_errors_total",
  type: "counter",
  help: "Failures to accept an HTTP connection (e.g. too many open files); accepting goes on",
  labels: [],
} as const satisfies MetricDefinition;

/** Requests the web guard answered itself, by reason (no login, a foreign Host, over the rate). */
export const POSE_HTTP_REQUESTS_REJECTED_TOTAL = {
  name: "pose_http_requests_rejected_total",
  type: "counter",
  help: "HTTP requests refused before any endpoint saw them, by reason (unauthorized: missing or " +
    "wrong login, 401; host_not_allowed: a browser's Host or Origin names another site, 403; " +
    "rate_limited: over the web config's rate_limit or too many logins waiting, 429)",
  labels: ["reason"],
} as const satisfies MetricDefinition;

/** Whether the --web-config-file in force is the file's current content. */
export const POSE_WEB_CONFIG_RELOAD_SUCCESS = {
  name: "pose_web_config_reload_success",
  type: "gauge",
  help: "1 when the last read of --web-config-file (and its certificate) succeeded, 0 when it " +
    "failed and the previous configuration is kept",
  labels: [],
} as const satisfies MetricDefinition;

/** Reads of the web config file that failed and changed nothing. */
export const POSE_WEB_CONFIG_RELOAD_FAILURES_TOTAL = {
  name: "pose_web_config_reload_failures_total",
  type: "counter",
  help: "Changes of --web-config-file (or its certificate) refused as invalid; the previous " +
    "configuration stays in force",
  labels: [],
} as const satisfies MetricDefinition;

/** When the served TLS certificate expires. */
export const POSE_HTTP_TLS_CERTIFICATE_EXPIRY_TIMESTAMP_SECONDS = {
  name: "pose_http_tls_certificate_expiry_timestamp_seconds",
  type: "gauge",
  help: "Unix time at which the TLS certificate being served expires (absent without TLS)",
  labels: [],
} as const satisfies MetricDefinition;

/** Confirmed tracks of a stream in view now (people tracked in its last frame). */
export const POSE_TRACKS_ACTIVE = {
  name: "pose_tracks_active",
  type: "gauge",
  help: "Person tracks of the stream matched in its last frame (people in view now)",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** Tracks that got an id, per stream. */
export const POSE_TRACKS_STARTED_TOTAL = {
  name: "pose_tracks_started_total",
  type: "counter",
  help: "Person tracks that got an id (a person came into view), per stream",
  labels: ["stream_id"],
} as const satisfies MetricDefinition;

/** How long ended tracks lasted, all streams together. */
export const POSE_TRACK_DURATION_SECONDS = {
  name: "pose_track_duration_seconds",
  type: "histogram",
  help: "Seconds from a person's first to last detection, per ended track, all streams together",
  labels: [],
} as const satisfies MetricDefinition;

/** MQTT messages by topic kind and outcome: sent + dropped + failed = produced. */
export const POSE_MQTT_MESSAGES_TOTAL = {
  name: "pose_mqtt_messages_total",
  type: "counter",
  help: "MQTT messages produced, by topic kind and outcome (sent: taken by the broker, or " +
    "written for QoS 0; dropped: the oldest beyond the queue bound while the broker was away " +
    "or slow; failed: refused or lost with the connection)",
  labels: ["topic_kind", "outcome"],
} as const satisfies MetricDefinition;

/** Whether the exporter is connected to its MQTT broker. */
export const POSE_MQTT_CONNECTED = {
  name: "pose_mqtt_connected",
  type: "gauge",
  help: "1 while the exporter is connected to its MQTT broker, else 0",
  labels: [],
} as const satisfies MetricDefinition;

/** Failed connection attempts to the MQTT broker, by reason. */
export const POSE_MQTT_CONNECT_FAILURES_TOTAL = {
  name: "pose_mqtt_connect_failures_total",
  type: "counter",
  help: "Failed connection attempts to the MQTT broker, by reason (unreachable, " +
    "not_authorized: login refused, tls: certificate not trusted, other)",
  labels: ["reason"],
} as const satisfies MetricDefinition;

/** Bytes of MQTT messages waiting for the broker (queued and in flight). */
export const POSE_MQTT_QUEUE_BYTES = {
  name: "pose_mqtt_queue_bytes",
  type: "gauge",
  help: "Bytes of MQTT messages waiting for the broker, queued or in flight " +
    "(bounded by --mqtt-queue-mib)",
  labels: [],
} as const satisfies MetricDefinition;

/** Every metric this module defines, in exposition order. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = [
  POSE_FPS,
  POSE_LATENCY_MS,
  VRAM_USAGE_MB,
  VRAM_FRAGMENTATION_RATIO,
  POSE_FRAMES_TOTAL,
  POSE_FRAMES_DROPPED_TOTAL,
  POSE_PERSONS_DETECTED_TOTAL,
  POSE_PERSONS,
  POSE_LATENCY_SECONDS,
  POSE_BATCH_SIZE,
  POSE_INFERENCE_DURATION_SECONDS,
  POSE_QUEUE_DEPTH,
  POSE_STREAM_UP,
  POSE_STREAM_RESTARTS_TOTAL,
  POSE_STREAM_FAILURES_TOTAL,
  POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS,
  POSE_GPU_MEMORY_TOTAL_BYTES,
  POSE_GPU_MEMORY_EXPORTER_BYTES,
  POSE_GPU_SESSION_NEEDED_BYTES,
  POSE_GPU_WORKING_BATCH_SHAPE,
  GPU_INFO,
  POSE_GPU_POLL_SUCCESS,
  POSE_GPU_POLL_DURATION_SECONDS,
  POSE_GPU_POLL_ERRORS_TOTAL,
  POSE_GPU_GARBAGE_LINES_TOTAL,
  POSE_SOLVER_ACTIONS_TOTAL,
  POSE_EXPORTER_INFO,
  POSE_STREAM_INFO,
  POSE_STAGE_LATENCY_SECONDS,
  POSE_RESULTS_LOST_TOTAL,
  POSE_REMOVED_STREAM_FRAMES_DROPPED_TOTAL,
  POSE_CONFIG_RELOAD_SUCCESS,
  POSE_CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS,
  POSE_CONFIG_RELOAD_FAILURES_TOTAL,
  POSE_SCRAPE_COLLECT_ERRORS_TOTAL,
  POSE_HTTP_CONNECTIONS_OPEN,
  POSE_HTTP_CONNECTIONS_CLOSED_TOTAL,
  POSE_HTTP_ACCEPT_ERRORS_TOTAL,
  POSE_HTTP_REQUESTS_REJECTED_TOTAL,
  POSE_WEB_CONFIG_RELOAD_SUCCESS,
  POSE_WEB_CONFIG_RELOAD_FAILURES_TOTAL,
  POSE_HTTP_TLS_CERTIFICATE_EXPIRY_TIMESTAMP_SECONDS,
  POSE_TRACKS_ACTIVE,
  POSE_TRACKS_STARTED_TOTAL,
  POSE_TRACK_DURATION_SECONDS,
  POSE_MQTT_MESSAGES_TOTAL,
  POSE_MQTT_CONNECTED,
  POSE_MQTT_CONNECT_FAILURES_TOTAL,
  POSE_MQTT_QUEUE_BYTES,
];

/** Every metric name, for tests and callers that enumerate what the exporter adds. */
export const METRIC_NAMES: readonly string[] = METRIC_DEFINITIONS.map((d) => d.name);

/** Why the HTTP front closed a connection on its own, each initialised to zero. */
export const HTTP_CLOSE_REASONS = [
  "refused",
  "header_timeout",
  "body_timeout",
  "idle_timeout",
  "bad_request",
  "tls_handshake",
] as const;

/** A reason the HTTP front closes a connection. */
export type HttpCloseReason = typeof HTTP_CLOSE_REASONS[number];

/** Why the web guard refuses a request, each initialised to zero. */
export const HTTP_REJECT_REASONS = ["unauthorized", "host_not_allowed", "rate_limited"] as const;

/** A reason the web guard refuses a request. */
export type HttpRejectReason = typeof HTTP_REJECT_REASONS[number];

/** The kinds of MQTT topic (`topic_kind`), each initialised to zero. */
export const MQTT_TOPIC_KINDS = ["available", "state", "tracks", "poses"] as const;

/** A kind of MQTT topic. */
export type MqttTopicKind = typeof MQTT_TOPIC_KINDS[number];

/** What became of an MQTT message, each initialised to zero. */
export const MQTT_OUTCOMES = ["sent", "dropped", "failed"] as const;

/** What became of an MQTT message. */
export type MqttOutcome = typeof MQTT_OUTCOMES[number];

/** Why a connection attempt to the MQTT broker failed, each initialised to zero. */
export const MQTT_CONNECT_FAILURE_REASONS = [
  "unreachable",
  "not_authorized",
  "tls",
  "other",
] as const;

/** Why a connection attempt to the MQTT broker failed. */
export type MqttConnectFailureReason = typeof MQTT_CONNECT_FAILURE_REASONS[number];

/** Reasons a frame is dropped, each initialised to zero per stream. */
export const DROP_REASONS = ["queue_full", "inference_error", "shutdown"] as const;

/** A reason a frame is dropped. */
export type DropReason = typeof DROP_REASONS[number];

/** Reasons a stream goes down, each initialised to zero per stream. */
export const STREAM_DOWN_REASONS = [
  "exited",
  "eof",
  "stalled",
  "unreadable",
  "decode_error",
] as const;

/** A reason a stream goes down. */
export type StreamDownReason = typeof STREAM_DOWN_REASONS[number];

/** Reasons an nvidia-smi poll fails, each initialised to zero. */
export const GPU_POLL_ERROR_REASONS = ["timeout", "exit", "unparsable"] as const;

/** Outcomes of solver actions, each initialised to zero. */
export const SOLVER_OUTCOMES = [
  "done",
  "failed",
  "ineffective",
  "skipped_no_room",
  "skipped_rate_limited",
] as const;

/** Buckets of pose_latency_seconds. */
export const LATENCY_BUCKETS_SECONDS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.15,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/** Buckets of pose_inference_duration_seconds. */
export const INFERENCE_BUCKETS_SECONDS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** The stages of pose_stage_latency_seconds: inside a frame's span, then outside it. */
export const PIPELINE_STAGES = [
  "queue",
  "handoff",
  "inference",
  "postprocess",
  "source",
  "sink",
  "track",
] as const;

/** A stage of the pipeline. */
export type PipelineStage = typeof PIPELINE_STAGES[number];

/** Buckets of pose_stage_latency_seconds: from 50 µs (a hand-over) to seconds (a stalled queue). */
export const STAGE_BUCKETS_SECONDS = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
];

/** Quantiles of pose_latency_ms. */
export const LATENCY_QUANTILES = [0.5, 0.9, 0.99];

/** Buckets of pose_track_duration_seconds: from a second (a passer-by) to hours (a worker). */
export const TRACK_DURATION_BUCKETS_SECONDS = [
  1,
  2,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
  1800,
  3600,
  7200,
  14400,
];
