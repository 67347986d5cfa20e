/**
 * Test doubles for the go-live saga (edge/do/*.test.ts): injectable dependencies that record every
 * call and fail on demand, plus D1 helpers for nodes and slots. Used inside workerd only.
 */
import type { WorkerEnv } from "../../../edge/config.ts";
import { env } from "cloudflare:test";
import { registerNode } from "../../../edge/nodes/node-store.ts";
import type { SagaDeps, SagaStage } from "../../../edge/do/stream-control/deps.ts";
import type { SagaState, StreamControl } from "../../../edge/do/stream-control/stream-control.ts";

export const testEnv = (): WorkerEnv => env as unknown as WorkerEnv;

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

let n = 0;
/** A registered, online node with `slots` free slots and a fresh heartbeat. */
export const addNode = async (slots = 2): Promise<string> => {
  const id = `saga-node-${Date.now().toString(36)}-${n++}`;
  await registerNode(testEnv().DB!, id, { slots, slotsUsed: 0, encoder: "libx264", load: 0.1, speed: 1.5, controlUrl: `http://${id}.test:8090`, rtmpUrl: "rtmp://127.0.0.1:1935/live", version: "test" });
  return id;
};

export const nodeSlots = async (id: string): Promise<number> =>
  (await testEnv().DB!.prepare("SELECT slots_reserved FROM transcoder_nodes WHERE id = ?1").bind(id).first<{ slots_reserved: number }>())!.slots_reserved;

export const reservationOf = (streamId: string) => testEnv().DB!.prepare("SELECT * FROM stream_reservations WHERE stream_id = ?1").bind(streamId).first<{ node_id: string; state: string }>();

export const streamRow = (streamId: string) =>
  testEnv().DB!.prepare("SELECT status, node_id, started_at, ended_at FROM streams WHERE id = ?1").bind(streamId).first<{ status: string; node_id: string | null; started_at: string | null; ended_at: string | null }>();

export const eventsOf = async (streamId: string) =>
  (await testEnv().DB!.prepare("SELECT event_type, severity, message FROM stream_events WHERE stream_id = ?1 ORDER BY id").bind(streamId).all<{ event_type: string; severity: string; message: string }>()).results;

export const controlStub = (streamId: string): DurableObjectStub<StreamControl> => {
  const ns = testEnv().STREAM_CONTROL!;
  return ns.get(ns.idFromName(streamId));
};

/** Polls the object's state until `pred` holds (alarms run on their own in workerd). */
export const waitForState = async (streamId: string, pred: (s: SagaState) => boolean, what: string, timeoutMs = 10_000): Promise<SagaState> => {
  const deadline = Date.now() + timeoutMs;
  let last: SagaState | null = null;
  while (Date.now() < deadline) {
    last = (await controlStub(streamId).getState()) as SagaState | null;
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}; state: ${JSON.stringify(last && { phase: last.phase, step: last.step, completed: last.completed, history: last.history.slice(-6) })}`);
};
