/**
 * warmup_cdn: the chat room learns the stream goes live, every edge is prewarmed, and the
 * end-to-end probe sees a part come back; not ready yet until then, failed after `warmupTimeoutMs`.
 */
import { errorText } from "../state.ts";
import type { SagaStepModule } from "./step.ts";

export const warmupCdn: SagaStepModule = {
  async forward({ state, deps, save }) {
    const timedOut = Date.now() - state.stepStartedAt > deps.timing.warmupTimeoutMs;
    await deps.openChatRoom(state.streamId);
    for (const edge of deps.edgeUrls) {
      if (state.warmedEdges.includes(edge)) continue;
      // Recorded before the call: a prewarm that half-happened is still purged by the compensation.
      state.warmedEdges.push(edge);
      await save();
      try {
        await deps.prewarmEdge(edge, state.streamId);
      } catch (err) {
        state.warmedEdges = state.warmedEdges.filter((e) => e !== edge);
        if (timedOut) throw new Error(`prewarm did not succeed within ${deps.timing.warmupTimeoutMs} ms: ${errorText(err)}`);
        await save();
        return false; // the stream's first playlists are not there yet
      }
    }
    if (!state.probed) {
      let seen = false;
      try {
        seen = await deps.probePart(state.streamId);
      } catch {
        seen = false;
      }
      if (!seen) {
        if (timedOut) throw new Error(`no part came through the edge within ${deps.timing.warmupTimeoutMs} ms`);
        return false;
      }
      state.probed = true;
    }
    return true;
  },

  async compensate({ state, deps, save }) {
    for (const edge of [...state.warmedEdges].reverse()) {
      await deps.purgeEdge(edge, state.streamId);
      state.warmedEdges = state.warmedEdges.filter((e) => e !== edge);
      await save();
    }
  },

  async leftBehind({ state }) {
    return state.warmedEdges.length > 0;
  },
};
