/**
 * The Worker entry of the workerd tests (vitest.config.ts, edge project `main`): the edge Worker
 * as deployed, except that StreamControl builds its saga's dependencies with `testSagaDeps` (the
 * fakes a test registered for its stream, the real ones otherwise). Same class names as
 * edge/index.ts, so wrangler.toml's bindings and migrations apply unchanged.
 */
import { StreamControl as DeployedStreamControl } from "../../../edge/do/stream-control/stream-control.ts";
import { testSagaDeps } from "./saga-fakes.ts";

export { default, ChatRoom, ViewerCounter } from "../../../edge/index.ts";

export class StreamControl extends DeployedStreamControl {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, testSagaDeps);
  }
}
