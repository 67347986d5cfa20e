/** reserve_capacity: a slot on the publisher's node (or, without one, any node with a free slot). */
import { candidateNodes, getReservation, releaseSlot, reserveSlot } from "../../../nodes/reservations.ts";
import type { SagaStepModule } from "./step.ts";

export const reserveCapacity: SagaStepModule = {
  async forward({ state, db }) {
    let candidates = await candidateNodes(db, { prefer: state.triggerNode });
    // The publisher is connected to the node that asked: RTMP cannot be moved, so only that node will do.
    if (state.triggerNode) candidates = candidates.filter((n) => n.id === state.triggerNode);
    for (const node of candidates) {
      const reservation = await reserveSlot(db, state.streamId, node.id);
      if (!reservation) continue; // raced for its last slot
      state.node = { id: reservation.nodeId, controlUrl: reservation.controlUrl };
      await db.prepare("UPDATE streams SET node_id = ?2 WHERE id = ?1").bind(state.streamId, reservation.nodeId).run();
      return true;
    }
    throw new Error(state.triggerNode ? `node ${state.triggerNode} is not registered, not online or has no free slot` : "no transcoder node has a free slot");
  },

  async compensate({ state, db }) {
    await releaseSlot(db, state.streamId);
    await db.prepare("UPDATE streams SET node_id = NULL WHERE id = ?1 AND status IN ('starting', 'idle')").bind(state.streamId).run();
  },

  async leftBehind({ state, db }) {
    return (await getReservation(db, state.streamId)) !== null;
  },
};
