/** Stream lifecycle events with severity; the control plane persists them, nodes emit them. */
export const STREAM_EVENT_TYPES = [
  "stream_started",
  "stream_ended",
  /** The node's encoder kept exiting and the node gave up on the stream (`data.reason`: ffmpeg's last words). */
  "stream_failed",
  "quality_changed",
  "connection_lost",
  "connection_restored",
  "high_latency",
  "frame_drop",
  "bitrate_change",
  "error",
] as const;

export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number];
export type Severity = "info" | "warning" | "error" | "critical";

export interface StreamEvent {
  type: StreamEventType;
  streamId: string;
  severity: Severity;
  at: string;
  data: Record<string, unknown>;
}

export const streamEvent = (
  type: StreamEventType,
  streamId: string,
  severity: Severity,
  data: Record<string, unknown> = {},
): StreamEvent => ({ type, streamId, severity, at: new Date().toISOString(), data });
