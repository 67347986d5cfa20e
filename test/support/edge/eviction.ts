/**
 * Support for the StreamControl eviction tests (edge/faults/do-eviction*.test.ts): fake saga
 * dependencies that park the object at a chosen point, a real follower fan-out, and resume().
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import type { SagaDeps, SagaStage } from "../../../edge/do/stream-control/deps.ts";
import type { SagaState } from "../../../edge/do/stream-control/state.ts";
import { apiClient } from "./api-client.ts";
import { measureFanout, seedFollowers } from "./fanout-measure.ts";
import { fakeDeps, useFakeSagaDeps } from "./saga-fakes.ts";
import { addNode, controlStub, testEnv } from "./saga-state.ts";

export const api = apiClient();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where the object is reset: before a stage runs (beforeStage hook), or right after a dependency call's side effect. */
export type Point = `before:${SagaStage}` | "after:configure" | "after:prewarm" | "after:probe" | "after:notify" | "after:stop" | "after:archive";
const never = () => new Promise<never>(() => {});

/**
 * Fake saga dependencies (saga-fakes.ts) that park the object at `point` once (the call never
 * returns: the reset ends it), and a real follower fan-out (enqueue + the queue consumer) so that
 * "one notification per follower" is checked on what followers get.
 */
export const setup = async (timing: Parameters<typeof fakeDeps>[0] = {}) => {
  const owner = await api.signUp("evs");
  const stream = await api.createStream(owner.token, { title: "Eviction saga", category: "gaming" });
  await seedFollowers(testEnv().DB!, owner.user.id, 3);
  const nodeId = await addNode(2);
  const { deps, ctl } = fakeDeps({ retryMs: 20, ...timing });
  let hold: Point | null = null;
  let reached: (() => void) | null = null;
  const park = async (p: Point) => {
    if (hold !== p) return;
    hold = null;
    reached?.();
    await never();
  };
  const held: SagaDeps = {
    ...deps,
    beforeStage: async (stage, id) => {
      await park(`before:${stage}`);
      await deps.beforeStage(stage, id);
    },
    configureNode: async (node, id) => {
      await deps.configureNode(node, id);
      await park("after:configure");
    },
    prewarmEdge: async (edge, id) => {
      await deps.prewarmEdge(edge, id);
      // After the last edge's prewarm.
      if (edge === deps.edgeUrls.at(-1)) await park("after:prewarm");
    },
    probePart: async (id) => {
      const seen = await deps.probePart(id);
      await park("after:probe");
      return seen;
    },
    notifyFollowers: async (id) => {
      await deps.notifyFollowers(id);
      await measureFanout(testEnv() as Env, id);
      await park("after:notify");
    },
    stopNodeStream: async (node, id, reason) => {
      await deps.stopNodeStream(node, id, reason);
      await park("after:stop");
    },
    archiveVod: async (id) => {
      await deps.archiveVod(id);
      await park("after:archive");
    },
  };
  useFakeSagaDeps(stream.stream_id, held);
  const id = stream.stream_id;
  return {
    owner,
    id,
    nodeId,
    ctl,
    stub: controlStub(id),
    /** Parks the object at `p` the next time it gets there; resolves when it did. */
    holdAt(p: Point): Promise<void> {
      hold = p;
      return new Promise<void>((resolve, reject) => {
        reached = resolve;
        setTimeout(() => reject(new Error(`the saga never reached ${p}`)), 15_000);
      });
    },
  };
};

export const notificationsPerFollower = async (streamId: string): Promise<number[]> => {
  const rows = await testEnv()
    .DB!.prepare("SELECT f.follower_id AS id, count(n.id) AS n FROM streams s JOIN follows f ON f.followed_id = s.user_id LEFT JOIN notifications n ON n.user_id = f.follower_id AND n.stream_id = s.id WHERE s.id = ?1 GROUP BY f.follower_id")
    .bind(streamId)
    .all<{ id: string; n: number }>();
  return rows.results.map((r) => r.n);
};

export const count = (list: string[], pred: (c: string) => boolean) => list.filter(pred).length;

/**
 * After the reset: the object's alarm is run (runDurableObjectAlarm, on a fresh instance) until
 * `until` holds, as the platform retries the alarm the reset object was running. (Locally, workerd
 * does not run again an alarm whose handler was running when abortAllDurableObjects() hit, so the
 * test runs the retries itself.)
 */
export const resume = async (streamId: string, until: (s: SagaState) => boolean, what: string): Promise<SagaState> => {
  let s: SagaState | null = null;
  for (let i = 0; i < 300; i++) {
    s = await controlStub(streamId).getState();
    if (s && until(s)) return s;
    if (!(await runDurableObjectAlarm(controlStub(streamId)))) await sleep(20);
  }
  throw new Error(`${what}: not reached; state ${JSON.stringify(s && { phase: s.phase, step: s.step, history: s.history.slice(-6) })}`);
};

