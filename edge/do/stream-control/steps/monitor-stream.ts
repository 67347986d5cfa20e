/**
 * monitor_stream, every `monitorMs` while live (forward-only): the node is alive and keeps up, the
 * origin is healthy, parts keep arriving. Problems are recovered where they can be (another node,
 * a dropped rung, an alert); what cannot be is handed back as a reason for MANUAL_INTERVENTION.
 */
import { getNode } from "../../../nodes/node-store.ts";
import { NODE_STALE_MS } from "../../../nodes/reservations.ts";
import { moveToAlternate } from "./move-node.ts";
import type { StepContext } from "./step.ts";

/** One round of checks; the reason to end the stream, or null while it may go on. */
export const monitorStream = async (ctx: StepContext): Promise<string | null> => {
  const { state, deps, db } = ctx;
  const monitor = state.monitor;
  // 1. The node: alive (heartbeat) and encoding in real time.
  const node = state.node ? await getNode(db, state.node.id) : null;
  const stale = !node || node.status === "offline" || Date.now() - Date.parse(node.last_heartbeat_at) > NODE_STALE_MS;
  if (stale) {
    const moved = await moveToAlternate(ctx);
    if (!moved) return `node ${state.node?.id ?? "?"} stopped reporting and no alternate node has a free slot`;
  } else if (node.speed < 1.0 && node.speed > 0) {
    if (!monitor.slow) {
      monitor.slow = true;
      // The node drops its top rung itself when it cannot keep up (it reports quality_changed).
      await ctx.recover("SKIP", "monitor_stream", `encoder speed ${node.speed}× < 1.0×: the node drops a rung`, "high_latency");
    }
  } else monitor.slow = false;
  // 2. The origin: a failed health check is an alert, not a reason to stop.
  const healthy = await deps.originHealthy();
  if (!healthy && !monitor.originDown) await ctx.recover("CONTINUE", "monitor_stream", "origin health check failed; streaming continues");
  monitor.originDown = !healthy;
  // 3. Parts arriving: the top rendition's playlist advances. A playlist that cannot be read
  // (null: the origin is down or restarting) is not a stall: counting it ended a stream whose
  // origin took longer than stallChecks × monitorMs to come back, though the node was about to
  // re-push everything. Only a readable playlist that stands still counts.
  const progress = await deps.playlistProgress(state.streamId);
  const advanced = progress !== null && (progress.msn > monitor.lastMsn || (progress.msn === monitor.lastMsn && progress.parts > monitor.lastParts));
  if (advanced) {
    monitor.lastMsn = progress.msn;
    monitor.lastParts = progress.parts;
    monitor.stalls = 0;
  } else if (progress !== null && ++monitor.stalls >= deps.timing.stallChecks) {
    return `no new part for ${monitor.stalls} checks`;
  }
  return null;
};
