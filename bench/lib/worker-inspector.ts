/**
 * The Worker behind `wrangler dev`, seen through wrangler's inspector proxy (the DevTools endpoint
 * `--inspector-port` opens): its JavaScript heap (`Runtime.getHeapUsage`, heap snapshots) and CPU
 * profiles. workerd's RSS mixes
 * the runtime's native memory with the isolate's heap; the heap is what the Worker's code can keep,
 * so a flat heap under a growing RSS says the growth is the runtime's, not Cascade's.
 *
 * workerd does not answer `HeapProfiler.collectGarbage`, so `usedMiB` includes garbage not yet
 * collected: it moves by a few MiB between samples; a Worker that keeps things shows as a trend.
 */
import WebSocket from "ws";
import { listeningPorts, workerdPids } from "./workerd.ts";

export interface HeapUsage {
  usedMiB: number;
  totalMiB: number;
}

export interface LiveHeap {
  /** Sum of the snapshot's objects' own sizes: what is reachable after the snapshot's full GC. */
  liveMiB: number;
  objects: number;
}

export interface WorkerInspector {
  /** null when the inspector did not answer within the timeout (the sample is skipped, not zero). */
  usage(timeoutMs?: number): Promise<HeapUsage | null>;
  /**
   * A heap snapshot (V8 collects all garbage first), summed: the Worker's live heap. It stops the
   * isolate while it is taken (about a second for a few MiB), so benchmarks take it sparingly.
   */
  live(timeoutMs?: number): Promise<LiveHeap | null>;
  /** A sampling CPU profile of the Worker's isolate over `ms` (V8's .cpuprofile JSON), or null. */
  profile(ms: number, samplingIntervalUs?: number): Promise<CpuProfile | null>;
  close(): void;
}

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time per function (name, file, line), busiest first; `(idle)` is the isolate waiting. */
export const selfTimes = (p: CpuProfile): Array<{ fn: string; ms: number }> => {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)?.callFrame;
    const key = f ? `${f.functionName || "(anonymous)"}${f.url ? ` ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}` : ""}` : "?";
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...out].map(([fn, ms]) => ({ fn, ms })).sort((a, b) => b.ms - a.ms);
};

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[] } };
  nodes: number[];
}

/** Total self size and object count of a .heapsnapshot. */
export const summariseSnapshot = (text: string): LiveHeap => {
  const snap = JSON.parse(text) as SnapshotJson;
  const fields = snap.snapshot.meta.node_fields;
  const stride = fields.length;
  const selfSize = fields.indexOf("self_size");
  let bytes = 0;
  for (let i = selfSize; i < snap.nodes.length; i += stride) bytes += snap.nodes[i]!;
  return { liveMiB: bytes / 1048576, objects: snap.nodes.length / stride };
};

/** wrangler's inspector proxy: the workerd port of `pgid` whose /json/list names "Cloudflare Worker". */
const findInspector = async (pgid: number): Promise<string> => {
  for (const pid of workerdPids(pgid)) {
    for (const port of listeningPorts(pid)) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(3000) });
        if (!res.ok) {
          await res.body?.cancel();
          continue;
        }
        const targets = (await res.json()) as Array<{ title?: string; webSocketDebuggerUrl?: string }>;
        const worker = targets.find((t) => t.title === "Cloudflare Worker" && t.webSocketDebuggerUrl);
        if (worker) return worker.webSocketDebuggerUrl!;
      } catch {
        // not an inspector port
      }
    }
  }
  throw new Error(`no wrangler inspector proxy found in process group ${pgid} (wrangler dev runs with --inspector-port)`);
};

export const connectWorkerInspector = async (pgid: number): Promise<WorkerInspector> => {
  const ws = new WebSocket(await findInspector(pgid));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  // Other answers and events (wrangler's own calls, console messages) are not ours: ignored by id.
  ws.on("error", () => undefined);
  const waiting = new Map<number, (result: unknown) => void>();
  let seq = 0;
  let chunks: string[] | null = null;
  ws.on("message", (data) => {
    let msg: { id?: number; result?: unknown; method?: string; params?: { chunk?: string } };
    try {
      msg = JSON.parse(String(data)) as typeof msg;
    } catch {
      return;
    }
    if (msg.method === "HeapProfiler.addHeapSnapshotChunk" && chunks && typeof msg.params?.chunk === "string") chunks.push(msg.params.chunk);
    if (msg.id !== undefined && waiting.has(msg.id)) {
      waiting.get(msg.id)!(msg.result);
      waiting.delete(msg.id);
    }
  });
  const call = (method: string, timeoutMs: number, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve) => {
      if (ws.readyState !== WebSocket.OPEN) return resolve(null);
      const id = ++seq;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      waiting.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async usage(timeoutMs = 5000) {
      const r = (await call("Runtime.getHeapUsage", timeoutMs)) as { usedSize?: number; totalSize?: number } | null;
      if (!r || typeof r.usedSize !== "number" || typeof r.totalSize !== "number") return null;
      return { usedMiB: r.usedSize / 1048576, totalMiB: r.totalSize / 1048576 };
    },
    async live(timeoutMs = 60_000) {
      chunks = [];
      const done = await call("HeapProfiler.takeHeapSnapshot", timeoutMs, { reportProgress: false });
      const text = chunks.join("");
      chunks = null;
      if (done === null || text.length === 0) return null;
      try {
        return summariseSnapshot(text);
      } catch {
        return null;
      }
    },
    async profile(ms, samplingIntervalUs = 200) {
      await call("Profiler.enable", 5000);
      await call("Profiler.setSamplingInterval", 5000, { interval: samplingIntervalUs });
      await call("Profiler.start", 5000);
      await new Promise((r) => setTimeout(r, ms));
      const r = (await call("Profiler.stop", 60_000)) as { profile?: CpuProfile } | null;
      return r?.profile ?? null;
    },
    close: () => ws.close(),
  };
};
