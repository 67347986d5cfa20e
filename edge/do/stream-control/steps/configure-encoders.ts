/** configure_encoders: the node expects the stream (and its options); its reservation is `configured`. */
import { markReservation } from "../../../nodes/reservations.ts";
import type { SagaStepModule } from "./step.ts";

export const configureEncoders: SagaStepModule = {
  async forward({ state, deps, db }) {
    await deps.configureNode(state.node!, state.streamId);
    await markReservation(db, state.streamId, "configured");
    return true;
  },

  async compensate({ state, deps, db }) {
    await deps.stopNodeStream(state.node!, state.streamId, "go-live cancelled");
    await markReservation(db, state.streamId, "reserved");
  },
};
