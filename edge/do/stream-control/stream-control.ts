/**
 * StreamControl: one Durable Object per stream that owns its lifecycle and runs the go-live saga
 * (ARCHITECTURE.md, control path):
 *
 *   validate_event → reserve_capacity → configure_encoders → warmup_cdn → go_live (pivot)
 *   → monitor_stream (every few seconds) → archive_vod (on stop)
 *
 * Each step is a module in steps/ (a forward action and its compensation); this class is the
 * orchestrator. Alarms drive every step; each step's outcome is written to the object's storage
 * (state.ts) before the next one is scheduled, so an object evicted or restarted anywhere resumes
 * from storage. A failure before the pivot runs the compensations of the completed steps in reverse
 * order and settles the stream back to `idle` with an `error` event; after the pivot only forward
 * strategies apply.
 */
import { DurableObject } from "cloudflare:workers";
import type { Severity, StreamEventType } from "../../../shared/events.ts";
import { isoNow, requireDb } from "../../db/database.ts";
import { d1StreamLifecycle, type StopOutcome } from "../../streams/lifecycle.ts";
import { insertEventStatement } from "../../streams/stream-events.ts";
import { getStream } from "../../streams/stream-store.ts";
import { realSagaDeps, SAGA_STEPS, type SagaDeps, type SagaDepsFactory, type SagaStage, type SagaStep } from "./deps.ts";
import { ARCHIVE_TASKS, errorText, newSagaState, type BeginResult, type NodeReport, type RecoveryStrategy, type SagaPhase, type SagaRecord, type SagaState } from "./state.ts";
import { ARCHIVE_TASK_MODULES } from "./steps/archive-vod.ts";
import { SAGA_STEP_MODULES, type StepContext } from "./steps/index.ts";
import { monitorStream } from "./steps/monitor-stream.ts";
import { moveToNode } from "./steps/move-node.ts";
import { ENCODER_FAILURE_STAGE, failureReason, markFailedStatements } from "./stream-failure.ts";

export type { BeginResult, NodeReport, RecoveryStrategy, SagaPhase, SagaRecord, SagaState } from "./state.ts";

const HISTORY_MAX = 200;

/** Work left to do after one `advance`: now, after a delay (ms), or nothing until an outside event. */
type Next = { at: "now" } | { at: "later"; ms: number } | { at: "none" };
const NOW: Next = { at: "now" };
const NONE: Next = { at: "none" };
const later = (ms: number): Next => ({ at: "later", ms });

export class StreamControl extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @param makeDeps where the saga's outside dependencies come from: the real ones from the
   * bindings (the runtime passes only `ctx` and `env`); the workerd tests' entry passes fakes.
   */
  constructor(
    ctx: DurableObjectState,
    env: Env,
    private readonly makeDeps: SagaDepsFactory = realSagaDeps,
  ) {
    super(ctx, env);
  }

  // ---- RPC surface -------------------------------------------------------------------------------

  /** An authorised publish on `nodeId`: starts the saga (idempotent while one runs; a reconnect while `reconnecting`). */
  async begin(streamId: string, nodeId: string | null): Promise<BeginResult> {
    return this.serial(async () => {
      const s = await this.load();
      if (s && (s.phase === "live" || s.phase === "reconnecting") && nodeId && s.node && nodeId !== s.node.id) {
        // The publisher reconnected through another node (its node died, or the ingest address
        // now routes elsewhere): the stream follows the media there at once rather than after the
        // old node's heartbeat goes stale. Configured before this answer, so the node's pipeline
        // starts with the stream's options (DVR window, recording).
        const previous = s.node.id;
        const moved = await moveToNode(this.stepContext(s, this.deps(s.streamId)), nodeId);
        if (moved) await this.recover(s, "RETRY_WITH_ALTERNATE", "monitor_stream", `publisher reconnected through node ${nodeId}; moved from ${previous}`);
        if (s.phase === "reconnecting") await this.restored(s, `publisher reconnected through node ${nodeId}`);
        return { accepted: true, phase: s.phase };
      }
      if (s && s.phase === "reconnecting") {
        await this.restored(s, "publisher reconnected");
        return { accepted: true, phase: s.phase };
      }
      if (s && s.phase !== "idle") return { accepted: s.phase === "running" || s.phase === "live", phase: s.phase };
      const fresh = newSagaState(streamId, nodeId, (s?.runs ?? 0) + 1, s?.history ?? []);
      await this.save(fresh);
      await this.ctx.storage.setAlarm(Date.now());
      return { accepted: true, phase: fresh.phase };
    });
  }

  /** What the node reports about the stream's pipeline (connection_lost, quality_changed …). */
  async nodeEvent(streamId: string, report: NodeReport): Promise<{ phase: SagaPhase | null }> {
    return this.serial(async () => {
      const s = await this.load();
      const data = { ...(report.data ?? {}), node_id: report.nodeId };
      if (!s || s.phase === "idle" || s.phase === "ended") {
        // No saga (a stream published before the saga existed, or one that ended): keep the record only.
        if (!["stream_started", "stream_ended", "stream_failed"].includes(report.type)) await this.event(streamId, report.type, report.severity, `Node ${report.nodeId}: ${report.type}`, data);
        return { phase: s?.phase ?? null };
      }
      const fromOurNode = !s.node || s.node.id === report.nodeId;
      switch (report.type) {
        case "connection_lost":
          if (fromOurNode && s.phase === "live") await this.lost(s, data);
          break;
        case "connection_restored":
          if (fromOurNode && s.phase === "reconnecting") await this.restored(s, "publisher reconnected", data);
          break;
        case "stream_ended":
          // The node gave up on the publisher (its own grace period): the stream ends.
          if (fromOurNode && (s.phase === "live" || s.phase === "reconnecting")) await this.beginStopping(s, "the node ended the pipeline");
          else if (fromOurNode && s.phase === "running") await this.fail(s, s.step ?? "warmup_cdn", new Error("the publisher left before the stream went live"));
          break;
        case "stream_failed":
          if (fromOurNode && ["running", "live", "reconnecting"].includes(s.phase)) await this.encoderFailed(s, data);
          else await this.event(s.streamId, report.type, report.severity, `Node ${report.nodeId}: ${report.type}`, data);
          break;
        case "stream_started":
          break; // the saga records its own stream_started at the pivot
        default:
          await this.event(s.streamId, report.type, report.severity, `Node ${report.nodeId}: ${report.type}`, data);
      }
      return { phase: s.phase };
    });
  }

  /** POST /streams/:id/stop: before the pivot, compensate and end; after it, archive_vod and end. */
  async stop(streamId: string, by: { userId: string; username: string }): Promise<StopOutcome> {
    return this.serial(async () => {
      const db = requireDb(this.env);
      let s = await this.load();
      if (!s || s.phase === "idle") {
        const stream = await getStream(db, streamId);
        if (!stream) return { ok: false, reason: "gone" };
        const outcome = await d1StreamLifecycle.stop(db, stream, by);
        if (outcome.ok) {
          s ??= newSagaState(streamId, null, 0, []);
          s.phase = "ended";
          s.step = null;
          s.endedAt = outcome.endedAt;
          this.record(s, { stage: "settle", outcome: "ok", detail: `stopped by ${by.username} while idle` });
          await this.save(s);
        }
        return outcome;
      }
      if (s.phase === "ended") return { ok: false, reason: "already-ended" };
      const reason = `stopped by ${by.username}`;
      if (s.phase === "running" || s.phase === "compensating") {
        s.phase = "compensating";
        s.settleTo = "ended";
        s.stopReason = reason;
        s.attempts = 0;
        await this.save(s);
      } else if (s.phase === "live" || s.phase === "reconnecting") {
        await this.beginStopping(s, reason);
      }
      // Drive the remaining work inline (bounded) so the caller gets the final state; alarms finish the rest.
      for (let i = 0; i < 50 && !s.endedAt; i++) {
        const next = await this.advance(s, true);
        if (next.at === "none") break;
      }
      await this.ctx.storage.setAlarm(Date.now());
      return s.endedAt ? { ok: true, endedAt: s.endedAt } : { ok: false, reason: "already-ended" };
    });
  }

  async getState(): Promise<SagaState | null> {
    return this.load();
  }

  override async alarm(): Promise<void> {
    await this.serial(async () => {
      const s = await this.load();
      if (!s) return;
      const next = await this.advance(s, false);
      if (next.at === "now") await this.ctx.storage.setAlarm(Date.now());
      else if (next.at === "later") await this.ctx.storage.setAlarm(Date.now() + next.ms);
    });
  }

  // ---- the state machine -------------------------------------------------------------------------

  /** One unit of work for the current phase; the state is saved before it returns. */
  private async advance(s: SagaState, inline: boolean): Promise<Next> {
    switch (s.phase) {
      case "running":
        return this.runStep(s);
      case "compensating":
        return this.compensate(s, inline);
      case "live":
        return this.monitorStep(s);
      case "reconnecting":
        if (s.reconnectDeadline !== null && Date.now() < s.reconnectDeadline) return later(s.reconnectDeadline - Date.now());
        await this.beginStopping(s, "the publisher did not reconnect within the grace period");
        return NOW;
      case "stopping":
        return this.archiveStep(s, inline);
      default:
        return NONE;
    }
  }

  private async runStep(s: SagaState): Promise<Next> {
    const step = s.step!;
    const deps = this.deps(s.streamId);
    let done: boolean;
    try {
      await deps.beforeStage(step, s.streamId);
      done = await SAGA_STEP_MODULES[step].forward(this.stepContext(s, deps));
    } catch (err) {
      if (s.pivoted) {
        // Past the point of no return (go_live's own writes succeeded): forward only.
        await this.recover(s, "CONTINUE", "go_live", `after the pivot: ${errorText(err)}`);
        done = true;
      } else {
        await this.fail(s, step, err);
        return NOW;
      }
    }
    if (!done) {
      s.attempts++;
      if (s.attempts === 1) this.record(s, { stage: step, outcome: "waiting", detail: "not ready yet" });
      await this.save(s);
      return later(deps.timing.retryMs);
    }
    this.record(s, { stage: step, outcome: "ok", ms: Date.now() - s.stepStartedAt, detail: s.attempts ? `${s.attempts + 1} tries` : undefined });
    if (!s.completed.includes(step)) s.completed.push(step);
    s.attempts = 0;
    s.stepStartedAt = Date.now();
    const i = SAGA_STEPS.indexOf(step);
    if (step === "go_live") {
      s.phase = "live";
      s.step = null;
      await this.save(s);
      return later(deps.timing.monitorMs);
    }
    s.step = SAGA_STEPS[i + 1]!;
    await this.save(s);
    return NOW;
  }

  private async fail(s: SagaState, step: SagaStep, err: unknown): Promise<void> {
    s.failure = { step, error: errorText(err) };
    this.record(s, { stage: step, outcome: "failed", error: s.failure.error, ms: Date.now() - s.stepStartedAt });
    // A step that failed half-way is compensated too (first) when it left something behind.
    const partial = (await SAGA_STEP_MODULES[step].leftBehind?.(this.stepContext(s, this.deps(s.streamId)))) ?? false;
    if (partial && !s.completed.includes(step)) s.completed.push(step);
    s.phase = "compensating";
    s.settleTo = "idle";
    s.attempts = 0;
    await this.save(s);
    await this.ctx.storage.setAlarm(Date.now());
  }

  private async compensate(s: SagaState, inline: boolean): Promise<Next> {
    const deps = this.deps(s.streamId);
    const step = s.completed.at(-1);
    if (!step) return this.settle(s);
    const stage = `compensate:${step}` as const;
    const started = Date.now();
    try {
      await deps.beforeStage(stage, s.streamId);
      await SAGA_STEP_MODULES[step].compensate(this.stepContext(s, deps));
      this.record(s, { stage, outcome: "compensated", ms: Date.now() - started });
      s.completed.pop();
      s.attempts = 0;
    } catch (err) {
      s.attempts++;
      if (s.attempts < deps.timing.compensationAttempts) {
        await this.save(s);
        return inline ? NOW : later(deps.timing.retryMs * s.attempts);
      }
      this.record(s, { stage, outcome: "compensation_failed", error: errorText(err) });
      await this.event(s.streamId, "error", "critical", `Compensation ${step} failed; needs an operator`, { step, error: errorText(err) });
      s.completed.pop();
      s.attempts = 0;
    }
    await this.save(s);
    return NOW;
  }

  /** All compensations done: back to idle with an error event (or ended, when stopped before the pivot). */
  private async settle(s: SagaState): Promise<Next> {
    const db = requireDb(this.env);
    const now = isoNow();
    if (s.settleTo === "ended") {
      await db.batch([
        db.prepare("UPDATE streams SET status = 'ended', ended_at = ?2, node_id = NULL, viewer_count = 0, updated_at = ?2 WHERE id = ?1 AND status <> 'ended'").bind(s.streamId, now),
        db
          .prepare(
            `INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at)
             SELECT ?1, 'stream_ended', 'info', ?2, ?3, ?4 WHERE changes() = 1`,
          )
          .bind(s.streamId, `Stream ${s.stopReason ?? "stopped"} before it went live`, JSON.stringify({ reason: s.stopReason }), now),
      ]);
      s.phase = "ended";
      s.endedAt = now;
    } else {
      const failure = s.failure ?? { step: "validate_event", error: "unknown" };
      await db.batch([
        db.prepare("UPDATE streams SET status = 'idle', node_id = NULL, updated_at = ?2 WHERE id = ?1 AND status = 'starting'").bind(s.streamId, now),
        insertEventStatement(db, {
          streamId: s.streamId,
          type: "error",
          severity: "error",
          message: `Go-live failed at ${failure.step}: ${failure.error}`,
          details: { step: failure.step, error: failure.error, compensated: this.compensatedThisRun(s), run: s.runs },
          at: now,
        }),
      ]);
      s.phase = "idle";
    }
    s.step = null;
    this.record(s, { stage: "settle", outcome: "ok", detail: s.phase });
    await this.save(s);
    return NONE;
  }

  private compensatedThisRun(s: SagaState): string[] {
    const out: string[] = [];
    for (let i = s.history.length - 1; i >= 0; i--) {
      const h = s.history[i]!;
      if (h.outcome === "failed" && !h.stage.startsWith("compensate:")) break;
      if (h.outcome === "compensated") out.unshift(h.stage);
    }
    return out.reverse();
  }

  // ---- after the pivot ---------------------------------------------------------------------------

  private async monitorStep(s: SagaState): Promise<Next> {
    const deps = this.deps(s.streamId);
    s.monitor.checks++;
    try {
      await deps.beforeStage("monitor_stream", s.streamId);
      const why = await monitorStream(this.stepContext(s, deps));
      if (why !== null) return this.manualIntervention(s, why);
    } catch (err) {
      await this.recover(s, "CONTINUE", "monitor_stream", `monitoring failed: ${errorText(err)}`);
    }
    await this.save(s);
    return later(deps.timing.monitorMs);
  }

  /** MANUAL_INTERVENTION: end gracefully (the node writes ENDLIST), with a critical event. */
  private async manualIntervention(s: SagaState, why: string): Promise<Next> {
    await this.recover(s, "MANUAL_INTERVENTION", "monitor_stream", why, "error", "critical");
    await this.beginStopping(s, why);
    return NOW;
  }

  private async recover(s: SagaState, strategy: RecoveryStrategy, stage: SagaStage, detail: string, type: StreamEventType = "error", severity: Severity = "warning"): Promise<void> {
    this.record(s, { stage, outcome: "recovered", strategy, detail });
    await this.event(s.streamId, type, severity, `${strategy}: ${detail}`, { strategy, stage });
    await this.save(s);
  }

  private async lost(s: SagaState, data: Record<string, unknown>): Promise<void> {
    const graceMs = this.deps(s.streamId).timing.graceMs;
    const db = requireDb(this.env);
    s.phase = "reconnecting";
    s.reconnectDeadline = Date.now() + graceMs;
    await db.batch([
      db.prepare("UPDATE streams SET status = 'reconnecting', updated_at = ?2 WHERE id = ?1 AND status = 'live'").bind(s.streamId, isoNow()),
      insertEventStatement(db, { streamId: s.streamId, type: "connection_lost", severity: "warning", message: `Publisher disconnected; waiting ${graceMs / 1000} s`, details: data }),
    ]);
    this.record(s, { stage: "monitor_stream", outcome: "waiting", detail: "publisher disconnected" });
    await this.save(s);
    await this.ctx.storage.setAlarm(s.reconnectDeadline);
  }

  private async restored(s: SagaState, why: string, data: Record<string, unknown> = {}): Promise<void> {
    const db = requireDb(this.env);
    s.phase = "live";
    s.reconnectDeadline = null;
    s.monitor.stalls = 0;
    await db.batch([
      db.prepare("UPDATE streams SET status = 'live', updated_at = ?2 WHERE id = ?1 AND status = 'reconnecting'").bind(s.streamId, isoNow()),
      insertEventStatement(db, { streamId: s.streamId, type: "connection_restored", severity: "info", message: why, details: data }),
    ]);
    this.record(s, { stage: "monitor_stream", outcome: "ok", detail: why });
    await this.save(s);
    await this.ctx.storage.setAlarm(Date.now() + this.deps(s.streamId).timing.monitorMs);
  }

  /** The node's encoder gave up (stream-failure.ts): status failed, then compensate (before the pivot) or stop (after it). */
  private async encoderFailed(s: SagaState, data: Record<string, unknown>): Promise<void> {
    const db = requireDb(this.env);
    const reason = failureReason(data);
    await db.batch(markFailedStatements(db, s.streamId, reason, data, isoNow()));
    if (s.phase === "running") return this.fail(s, s.step ?? "warmup_cdn", new Error(`encoder failed: ${reason}`));
    s.failure = { step: ENCODER_FAILURE_STAGE, error: `encoder failed: ${reason}` };
    this.record(s, { stage: ENCODER_FAILURE_STAGE, outcome: "failed", error: reason, detail: "the node's encoder failed" });
    await this.beginStopping(s, `encoder failed: ${reason}`);
  }

  private async beginStopping(s: SagaState, reason: string): Promise<void> {
    s.phase = "stopping";
    s.stopReason = reason;
    s.reconnectDeadline = null;
    s.attempts = 0;
    await this.save(s);
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** archive_vod, in order: the node's pipeline ends (ENDLIST), the slot is released, the stream is ended, the VOD hook runs. */
  private async archiveStep(s: SagaState, inline: boolean): Promise<Next> {
    const deps = this.deps(s.streamId);
    const task = ARCHIVE_TASKS.find((t) => !s.archiveDone.includes(t));
    if (!task) {
      // A failed stream may be published again (it is `failed`, not `ended`): its saga waits in idle.
      s.phase = s.failure?.step === ENCODER_FAILURE_STAGE ? "idle" : "ended";
      await this.save(s);
      return NONE;
    }
    const started = Date.now();
    try {
      await ARCHIVE_TASK_MODULES[task](this.stepContext(s, deps));
    } catch (err) {
      s.attempts++;
      // archive_vod is retried until done; the others give up after a few tries (recorded) so the stream can end.
      if (task === "archive_vod" || s.attempts < deps.timing.compensationAttempts) {
        if (s.attempts === 1) this.record(s, { stage: task, outcome: "failed", error: errorText(err), detail: "retrying" });
        await this.save(s);
        if (inline && task !== "archive_vod") return NOW;
        return later(Math.min(60_000, deps.timing.retryMs * 2 ** Math.min(s.attempts, 8)));
      }
      this.record(s, { stage: task, outcome: "failed", error: errorText(err), detail: "given up" });
      await this.event(s.streamId, "error", "error", `${task} failed while ending the stream`, { task, error: errorText(err) });
    }
    this.record(s, { stage: task, outcome: "ok", ms: Date.now() - started });
    s.archiveDone.push(task);
    s.attempts = 0;
    await this.save(s);
    return NOW;
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  private deps(streamId: string): SagaDeps {
    return this.makeDeps(this.env, streamId);
  }

  /** What a saga step (steps/) works with: this run's state, and saving and recovering through this object. */
  private stepContext(s: SagaState, deps: SagaDeps): StepContext {
    return {
      state: s,
      deps,
      db: requireDb(this.env),
      save: () => this.save(s),
      recover: (strategy, stage, detail, type, severity) => this.recover(s, strategy, stage, detail, type, severity),
    };
  }

  /** One piece of work at a time in this instance (RPC calls and alarms interleave at awaits otherwise). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<SagaState | null> {
    return (await this.ctx.storage.get<SagaState>("saga")) ?? null;
  }

  private async save(s: SagaState): Promise<void> {
    if (s.history.length > HISTORY_MAX) s.history.splice(0, s.history.length - HISTORY_MAX);
    await this.ctx.storage.put("saga", s);
  }

  private record(s: SagaState, r: Omit<SagaRecord, "at">): void {
    s.history.push({ ...r, at: isoNow() });
  }

  private async event(streamId: string, type: StreamEventType, severity: Severity, message: string, details: Record<string, unknown> = {}): Promise<void> {
    await insertEventStatement(requireDb(this.env), { streamId, type, severity, message, details }).run();
  }
}
