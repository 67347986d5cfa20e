import { defineConfig } from "vitest/config";

// One node project for now; the edge (workerd pool) project joins with the edge issue.
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
