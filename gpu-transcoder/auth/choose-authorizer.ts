import type { TranscoderConfig } from "../config.ts";
import type { PublishAuthorizer } from "../ingest/types.ts";
import { ControlPlaneKeys } from "./control-plane-keys.ts";
import { LocalKeyList } from "./local-keys.ts";

/**
 * The node's publish authorizer. Without a control plane: the local key list. With
 * `CASCADE_CONTROL_PLANE_URL`: the control plane, with the local list (when it has keys) checked
 * first — so the operator's static keys (`npm start`'s `demo` and `live`) publish with no account
 * and even while the control plane is down, and every other key is the control plane's to decide.
 */
export const chooseAuthorizer = (config: TranscoderConfig, nodeToken: string): PublishAuthorizer => {
  const local = config.streamKeysFile ? LocalKeyList.fromFile(config.streamKeysFile) : LocalKeyList.fromSpec(config.streamKeys ?? "");
  if (!config.controlPlaneUrl) return local;
  return new ControlPlaneKeys({ baseUrl: config.controlPlaneUrl, nodeToken, ...(local.size > 0 ? { local } : {}) });
};
