import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { it } from "vitest";
import { overrideSagaDeps } from "../do/stream-control.ts";
import type { SagaDeps } from "../do/saga-deps.ts";
import { apiClient } from "../test-support/api-client.ts";
import { addNode, controlStub, fakeDeps } from "../test-support/saga-fakes.ts";

const api = apiClient();
const fakes = new Map<string, SagaDeps>();
overrideSagaDeps((_env, id) => fakes.get(id)!);

it("debug", async () => {
  const owner = await api.signUp("dbg");
  const stream = await api.createStream(owner.token, { title: "dbg", category: "gaming" });
  const nodeId = await addNode(2);
  const { deps } = fakeDeps({ retryMs: 20, resumeMs: 300 });
  let parked = false;
  let release: (e: Error) => void = () => {};
  let calls = 0;
  fakes.set(stream.stream_id, { ...deps, beforeStage: async (stage) => { calls++; console.log("beforeStage", stage, calls); if (stage === "reserve_capacity" && !parked) { parked = true; await new Promise((_r, rej) => { release = rej; }); } } });
  const stub = controlStub(stream.stream_id);
  await stub.begin(stream.stream_id, nodeId);
  while (!parked) await new Promise((r) => setTimeout(r, 10));
  console.log("alarm before abort", await runInDurableObject(stub, (_i, st) => st.storage.getAlarm()).catch((e) => String(e)));
  await abortAllDurableObjects();
  release(new Error("evicted"));
  for (let i = 0; i < 20; i++) {
    const s = await controlStub(stream.stream_id).getState().catch((e) => String(e));
    const alarm = await runInDurableObject(controlStub(stream.stream_id), (_i, st) => st.storage.getAlarm()).catch((e) => String(e));
    console.log(i, typeof s === "string" ? s : `${s?.phase} ${s?.step}`, "alarm", alarm, "now", Date.now());
    await new Promise((r) => setTimeout(r, 500));
  }
}, 30_000);
