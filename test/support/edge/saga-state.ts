/**
 * Reading what the go-live saga did, inside workerd: nodes and slots in D1, the stream's row and
 * events, the object's state (polled until a condition holds).
 */
import { env } from "cloudflare:test";
import type { WorkerEnv } from "../../../edge/config.ts";
import type { SagaState } from "../../../edge/do/stream-control/state.ts";
import type { StreamControl } from "../../../edge/do/stream-control/stream-control.ts";
import { registerNode } from "../../../edge/nodes/node-store.ts";

export const testEnv = (): WorkerEnv => env as unknown as WorkerEnv;

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
