// The exporter's version, reported by --version and the pose_exporter_info metric.

/** The version of pose-exporter, kept equal to `version` in deno.json. */
export const VERSION = "0.1.0";
