import { transcoderConfigFromEnv } from "./config.ts";
import { createTranscoderNode } from "./node.ts";

const node = await createTranscoderNode(transcoderConfigFromEnv());
await node.listen();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    node.log.info({ event: "shutdown", signal }, "gpu-transcoder stopping");
    void node.close().then(() => process.exit(0));
  });
}
