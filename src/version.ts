// The exporter's version, reported by --version and the pose_exporter_info metric.

/** The version of pose-exporter: the one place it is set (the image tag in deploy/ follows it). */
export const VERSION = "0.1.0";
