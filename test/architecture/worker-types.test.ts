/** edge/worker-configuration.d.ts (the Worker's `Env`) is what `wrangler types` makes of wrangler.toml today. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

it("the generated Env matches wrangler.toml (npm run types:edge regenerates it)", () => {
  const r = spawnSync(path.join(root, "node_modules/.bin/wrangler"), ["types", "edge/worker-configuration.d.ts", "--include-runtime=false", "--strict-vars=false", "--check"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" },
  });
  expect(r.status, r.stdout + r.stderr).toBe(0);
});
