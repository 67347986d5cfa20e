/** RETRY_WITH_ALTERNATE after the pivot: the stream's reservation moves to another node, configured there. */
import { candidateNodes, markReservation, releaseSlot, reserveSlot } from "../../../nodes/reservations.ts";
import { errorText } from "../state.ts";
import type { StepContext } from "./step.ts";

/** Moves the stream's reservation to `nodeId` (false: no free slot there) and configures the node. */
export const moveToNode = async (ctx: StepContext, nodeId: string): Promise<boolean> => {
  const { state, deps, db } = ctx;
  await releaseSlot(db, state.streamId);
  const reservation = await reserveSlot(db, state.streamId, nodeId);
  if (!reservation) return false;
  state.node = { id: reservation.nodeId, controlUrl: reservation.controlUrl };
  await ctx.save();
  try {
    await deps.configureNode(state.node, state.streamId);
    await markReservation(db, state.streamId, "configured");
  } catch (err) {
    await ctx.recover("CONTINUE", "monitor_stream", `alternate node ${nodeId} not configured: ${errorText(err)}`);
  }
  await db.prepare("UPDATE streams SET node_id = ?2 WHERE id = ?1").bind(state.streamId, nodeId).run();
  state.monitor.stalls = 0;
  return true;
};

/** The stream's node was lost: the first other node with a free slot takes it (false: none has one). */
export const moveToAlternate = async (ctx: StepContext): Promise<boolean> => {
  const previous = ctx.state.node;
  const candidates = await candidateNodes(ctx.db, { exclude: previous ? [previous.id] : [] });
  for (const node of candidates) {
    if (!(await moveToNode(ctx, node.id))) continue;
    await ctx.recover("RETRY_WITH_ALTERNATE", "monitor_stream", `node ${previous?.id ?? "?"} lost; moved to ${node.id} (the publisher reconnects to ${node.rtmp_url ?? "its ingest URL"})`);
    return true;
  }
  return false;
};
