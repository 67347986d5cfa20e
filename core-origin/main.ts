import { createOrigin } from "./app.ts";
import { originConfigFromEnv } from "./config.ts";

const origin = createOrigin(originConfigFromEnv());
await origin.listen();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    origin.log.info({ event: "shutdown", signal }, "core-origin stopping");
    void origin.close().then(() => process.exit(0));
  });
}
