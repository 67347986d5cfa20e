/**
 * Test doubles for the go-live saga: injectable dependencies that record every call and fail on
 * demand, and the one dependency factory the workerd tests' StreamControl uses (edge-entry.ts):
 * a stream's saga gets the fakes registered for it, any other stream the real dependencies.
 */
import { realSagaDeps, type SagaDeps, type SagaDepsFactory, type SagaStage } from "../../../edge/do/stream-control/deps.ts";

export interface FakeControls {
  calls: string[];
  /** Stages whose beforeStage hook throws. */
  failAt: Set<SagaStage>;
  /** The end-to-end probe sees a part. */
  probeReady: boolean;
  /** The playlist stops advancing. */
  stalled: boolean;
  originUp: boolean;
  notifyFails: boolean;
}

export const fakeDeps = (timing: Partial<SagaDeps["timing"]> = {}): { deps: SagaDeps; ctl: FakeControls } => {
  const ctl: FakeControls = { calls: [], failAt: new Set(), probeReady: true, stalled: false, originUp: true, notifyFails: false };
  let msn = 0;
  const deps: SagaDeps = {
    timing: { retryMs: 20, warmupTimeoutMs: 5_000, monitorMs: 60_000, stallChecks: 3, graceMs: 60_000, compensationAttempts: 3, ...timing },
    edgeUrls: ["http://edge-a.test", "http://edge-b.test"],
    beforeStage: async (stage) => {
      if (ctl.failAt.has(stage)) throw new Error(`injected failure at ${stage}`);
    },
    configureNode: async (node) => void ctl.calls.push(`configure:${node.id}`),
    stopNodeStream: async (node) => void ctl.calls.push(`stop:${node.id}`),
    prewarmEdge: async (edge) => void ctl.calls.push(`prewarm:${edge}`),
    purgeEdge: async (edge) => void ctl.calls.push(`purge:${edge}`),
    probePart: async () => {
      ctl.calls.push("probe");
      return ctl.probeReady;
    },
    openChatRoom: async () => void ctl.calls.push("chat"),
    closeChatRoom: async () => void ctl.calls.push("chat_closed"),
    notifyFollowers: async () => {
      ctl.calls.push("notify");
      if (ctl.notifyFails) throw new Error("queue unavailable");
    },
    archiveVod: async () => void ctl.calls.push("archive"),
    playlistProgress: async () => {
      if (!ctl.stalled) msn++;
      return { msn, parts: 0 };
    },
    originHealthy: async () => ctl.originUp,
  };
  return { deps, ctl };
};

/** Fakes by stream id (the objects run in the tests' isolate, so they see this module's map). */
const registered = new Map<string, SagaDeps>();

/** `streamId`'s saga uses `deps` from its next step on (streams are unique per test: never unregistered). */
export const useFakeSagaDeps = (streamId: string, deps: SagaDeps): void => {
  registered.set(streamId, deps);
};

/** The factory the tests' StreamControl is built with: a stream's fakes, else the real dependencies. */
export const testSagaDeps: SagaDepsFactory = (env, streamId) => registered.get(streamId) ?? realSagaDeps(env, streamId);
