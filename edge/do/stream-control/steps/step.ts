/**
 * The contract of one go-live saga step (one module each in this folder). The StreamControl
 * object orchestrates them: it runs `forward` until it is done, persists the outcome before the
 * next step, and on a failure before the pivot runs `compensate` of the completed steps in reverse.
 */
import type { Severity, StreamEventType } from "../../../../shared/events.ts";
import type { SagaDeps, SagaStage } from "../deps.ts";
import type { RecoveryStrategy, SagaState } from "../state.ts";

/** What a step works with. It changes `state` in place; the orchestrator saves it after the step. */
export interface StepContext {
  readonly state: SagaState;
  readonly deps: SagaDeps;
  readonly db: D1Database;
  /** Writes the state now: before a side effect that must be remembered if the object dies in it. */
  save(): Promise<void>;
  /** A forward recovery, kept in the history and the stream's events (an `error` warning unless said otherwise). */
  recover(strategy: RecoveryStrategy, stage: SagaStage, detail: string, type?: StreamEventType, severity?: Severity): Promise<void>;
}

export interface SagaStepModule {
  /** True when done, false when not ready yet (tried again after `retryMs`); a throw fails the step. */
  forward(ctx: StepContext): Promise<boolean>;
  /** Undoes what `forward` did, a half-done `forward` included; may run again after a failure. */
  compensate(ctx: StepContext): Promise<void>;
  /** After `forward` threw: whether it left something behind that `compensate` must undo. */
  leftBehind?(ctx: StepContext): Promise<boolean>;
}
