import type { LifecycleFactory, StopOutcome } from "../../streams/lifecycle.ts";
import { DurableObjectClient } from "../rpc-client.ts";
import type { BeginResult, NodeReport, SagaPhase, SagaState, StreamControl } from "./stream-control.ts";

/**
 * The typed client of one stream's StreamControl object (one object per stream id, by name).
 * Every method is idempotent, so each is retried once on a transient object error (rpc-client.ts).
 */
export class StreamControlClient extends DurableObjectClient<StreamControl> {
  constructor(
    ns: Env["STREAM_CONTROL"],
    readonly streamId: string,
  ) {
    super(ns, streamId);
  }

  /** An authorised publish on `nodeId` (the node's authorize call): starts the go-live saga. */
  begin(nodeId: string | null): Promise<BeginResult> {
    return this.call((s) => s.begin(this.streamId, nodeId) as Promise<BeginResult>);
  }

  /** A pipeline event the node reported (connection_lost, connection_restored, quality_changed, stream_ended …). */
  nodeEvent(report: NodeReport): Promise<{ phase: SagaPhase | null }> {
    return this.call((s) => s.nodeEvent(this.streamId, report) as Promise<{ phase: SagaPhase | null }>);
  }

  stop(by: { userId: string; username: string }): Promise<StopOutcome> {
    return this.call((s) => s.stop(this.streamId, by) as Promise<StopOutcome>);
  }

  state(): Promise<SagaState | null> {
    return this.call((s) => s.getState() as Promise<SagaState | null>);
  }
}

/** The client for `streamId`, or null when the Worker has no STREAM_CONTROL binding. */
export const streamControl = (env: Env, streamId: string): StreamControlClient | null =>
  env.STREAM_CONTROL ? new StreamControlClient(env.STREAM_CONTROL, streamId) : null;

/** The streams API's lifecycle seam, served by the stream's StreamControl object. */
export const streamControlLifecycle: LifecycleFactory = (env) => ({
  stop: (_db, stream, by) => new StreamControlClient(env.STREAM_CONTROL!, stream.id).stop(by),
});
