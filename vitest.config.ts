import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Secrets the edge tests run with (never used outside tests). */
export const EDGE_TEST_SECRETS = {
  EDGE_ADMIN_TOKEN: "edge-admin-token-for-tests",
  JWT_SECRET: "jwt-secret-for-tests-0123456789abcdef",
  NODE_SECRET: "node-secret-for-tests-0123456789",
} as const;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["shared/**/*.test.ts", "core-origin/**/*.test.ts", "gpu-transcoder/**/*.test.ts", "scripts/**/*.test.ts", "test/architecture/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
        },
      },
      {
        // The edge Worker's tests run inside workerd, with the bindings from wrangler.toml (D1 `DB`
        // included); the setup file applies the D1 migrations (edge/db/migrations) before each file.
        // The entry is the Worker with one seam: the saga's dependencies (test/support/edge/edge-entry.ts).
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            main: "./test/support/edge/edge-entry.ts",
            miniflare: {
              bindings: {
                ...EDGE_TEST_SECRETS,
                ORIGIN_URL: "http://origin.test",
                TEST_MIGRATIONS: await readD1Migrations(fileURLToPath(new URL("./edge/db/migrations", import.meta.url))),
              },
            },
          })),
        ],
        test: {
          name: "edge",
          include: ["edge/**/*.test.ts"],
          setupFiles: ["./test/support/edge/apply-migrations.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: ["test/faults/**", "test/architecture/**"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The live path spawns ffmpeg encoders; on 2 cores, files run one at a time, and only after
          // the unit and workerd projects are done, so the browser's no-stall check is not
          // measuring CPU starvation.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Fault injection end to end (kill -9, network drops, CPU starvation, cold edges): whole
        // stacks of real processes, minutes each, so `npm run faults` runs them apart from `npm test`
        // (.ci/run runs both). The workerd fault tests (Durable Object eviction) are in edge/faults/.
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          environment: "node",
          testTimeout: 240_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // No retry: a fault case that passes on a second try hides a real bug.
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
