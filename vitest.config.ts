import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["shared/**/*.test.ts", "core-origin/**/*.test.ts", "gpu-transcoder/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
        },
      },
      {
        // The edge Worker's tests run inside workerd, with the bindings from wrangler.toml.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { EDGE_ADMIN_TOKEN: "edge-admin-token-for-tests", ORIGIN_URL: "http://origin.test" } },
          }),
        ],
        test: {
          name: "edge",
          include: ["edge/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The live path spawns ffmpeg encoders; on 2 cores, files run one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
