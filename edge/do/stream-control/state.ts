/**
 * The saga's persisted state: one `SagaState` per StreamControl object, in its storage under
 * `saga`, written before each next piece of work is scheduled.
 */
import type { Severity, StreamEventType } from "../../../shared/events.ts";
import type { NodeTarget, SagaStage, SagaStep } from "./deps.ts";
import type { ENCODER_FAILURE_STAGE } from "./stream-failure.ts";

export type SagaPhase = "idle" | "running" | "compensating" | "live" | "reconnecting" | "stopping" | "ended";
/** Forward recovery after the pivot. */
export type RecoveryStrategy = "RETRY_WITH_ALTERNATE" | "SKIP" | "CONTINUE" | "MANUAL_INTERVENTION";
export const ARCHIVE_TASKS = ["stop_encoder", "release_slot", "mark_ended", "archive_vod"] as const;
export type ArchiveTask = (typeof ARCHIVE_TASKS)[number];

export interface SagaRecord {
  stage: SagaStage | ArchiveTask | "settle";
  outcome: "ok" | "waiting" | "failed" | "compensated" | "compensation_failed" | "recovered";
  at: string;
  ms?: number;
  error?: string;
  strategy?: RecoveryStrategy;
  detail?: string;
}

export interface SagaState {
  streamId: string;
  phase: SagaPhase;
  /** The next forward step while `running`. */
  step: SagaStep | null;
  /** Completed reversible steps, in order (compensated from the end). */
  completed: SagaStep[];
  /** The node whose authorize call started the saga (the publisher is connected there). */
  triggerNode: string | null;
  node: NodeTarget | null;
  /** Edges a prewarm was sent to (purged by the compensation). */
  warmedEdges: string[];
  probed: boolean;
  pivoted: boolean;
  notified: boolean;
  stepStartedAt: number;
  attempts: number;
  /** Why the last run failed: a go-live step, or the node's encoder after the pivot (stream-failure.ts). */
  failure: { step: SagaStep | typeof ENCODER_FAILURE_STAGE; error: string } | null;
  /** Where compensation ends: `idle` (go-live failed) or `ended` (stopped before the pivot). */
  settleTo: "idle" | "ended";
  stopReason: string | null;
  archiveDone: ArchiveTask[];
  monitor: { lastMsn: number; lastParts: number; stalls: number; slow: boolean; originDown: boolean; checks: number };
  reconnectDeadline: number | null;
  startedAt: string | null;
  endedAt: string | null;
  /** Sagas run for this stream (a failed go-live can be retried by publishing again). */
  runs: number;
  history: SagaRecord[];
}

export interface NodeReport {
  nodeId: string;
  type: StreamEventType;
  severity: Severity;
  data?: Record<string, unknown>;
}

export interface BeginResult {
  accepted: boolean;
  phase: SagaPhase;
}

/** A fresh run of the saga, at its first step. */
export const newSagaState = (streamId: string, nodeId: string | null, runs: number, history: SagaRecord[]): SagaState => ({
  streamId,
  phase: "running",
  step: "validate_event",
  completed: [],
  triggerNode: nodeId,
  node: null,
  warmedEdges: [],
  probed: false,
  pivoted: false,
  notified: false,
  stepStartedAt: Date.now(),
  attempts: 0,
  failure: null,
  settleTo: "idle",
  stopReason: null,
  archiveDone: [],
  monitor: { lastMsn: -1, lastParts: 0, stalls: 0, slow: false, originDown: false, checks: 0 },
  reconnectDeadline: null,
  startedAt: null,
  endedAt: null,
  runs,
  history,
});

/** An error's message as the history and events keep it. */
export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 500);
