/**
 * The arrows that must never be (docs: the target layout): no import loops, nothing imports the
 * Worker's entry or app except where allowed, route files only from the app, no product file imports
 * test support, and the edge's settings are read in edge/config.ts alone.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { importGraph, importLoops } from "./import-graph.ts";

const root = path.resolve(import.meta.dirname, "../..");
const rel = (file: string) => path.relative(root, file).split(path.sep).join("/");
const graph = importGraph(["edge", "shared", "core-origin", "gpu-transcoder", "test", "bench", "scripts"].map((d) => path.join(root, d)));
const edges = [...graph].flatMap(([from, tos]) => tos.map((to) => ({ from: rel(from), to: rel(to) })));

/** Files that only tests use: test support, and the tests themselves. */
const isTestFile = (file: string) => /\.test\.ts$|\.test-helper\.ts$/.test(file) || file.startsWith("test/");
/** Shipped code: the three processes and shared/. */
const isProduct = (file: string) => /^(edge|shared|core-origin|gpu-transcoder)\//.test(file) && !isTestFile(file);

describe("import graph", () => {
  it("has no import loops", () => {
    expect(importLoops(graph).map((loop) => loop.map(rel))).toEqual([]);
  });

  it("sees the imports it checks (a graph that read nothing would pass every rule)", () => {
    expect(edges).toContainEqual({ from: "edge/index.ts", to: "edge/app.ts" });
    expect(edges).toContainEqual({ from: "edge/app.ts", to: "edge/routes/api.ts" });
    expect(edges.length).toBeGreaterThan(500);
  });

  it("finds a loop when there is one", () => {
    const loop = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
    expect(importLoops(loop)).toEqual([["a", "b", "c"]]);
  });

  it("nothing in product code imports the Worker entry; only the entry imports the app", () => {
    const bad = edges.filter((e) => isProduct(e.from) && (e.to === "edge/index.ts" || (e.to === "edge/app.ts" && e.from !== "edge/index.ts")));
    expect(bad).toEqual([]);
  });

  it("route files are imported by the app (and the API's composer) only", () => {
    const composers = new Set(["edge/app.ts", "edge/routes/api.ts"]);
    const bad = edges.filter((e) => isProduct(e.from) && e.to.startsWith("edge/routes/") && !composers.has(e.from));
    expect(bad).toEqual([]);
  });

  it("no product file imports test support", () => {
    const bad = edges.filter((e) => isProduct(e.from) && isTestFile(e.to));
    expect(bad).toEqual([]);
  });
});

describe("edge settings", () => {
  const config = readFileSync(path.join(root, "edge/config.ts"), "utf8");
  const settings = [...config.slice(config.indexOf("interface EdgeSettings"), config.indexOf("export type WorkerEnv")).matchAll(/^\s+([A-Z][A-Z0-9_]+)\?:/gm)].map((m) => m[1]!);
  const vars = [...readFileSync(path.join(root, "wrangler.toml"), "utf8").split("[vars]")[1]!.split(/^\[/m)[0]!.matchAll(/^([A-Z][A-Z0-9_]+)\s*=/gm)].map((m) => m[1]!);

  it("are named in one place: the secrets and optional vars in EdgeSettings, the rest in wrangler.toml", () => {
    expect(settings).toContain("JWT_SECRET");
    expect(settings).toContain("SAGA_WARMUP_TIMEOUT_S");
    expect(vars).toContain("ORIGIN_URL");
    expect(vars).toContain("EDGE_MEMORY_CACHE_MB");
  });

  it("are read from the bindings in edge/config.ts only", () => {
    const read = new RegExp(`\\.(${[...settings, ...vars].join("|")})\\b`);
    const readers = [...graph.keys()].map(rel).filter((f) => f.startsWith("edge/") && !isTestFile(f) && f !== "edge/config.ts" && read.test(readFileSync(path.join(root, f), "utf8")));
    expect(readers).toEqual([]);
  });
});
