/**
 * The workerd tests run the Worker through test/support/edge/edge-entry.ts (vitest.config.ts): it
 * must export what edge/index.ts exports, or a Durable Object added to the Worker would be missing
 * from every edge test.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const exportsOf = (file: string): string[] => {
  const text = readFileSync(path.join(root, file), "utf8");
  const names = new Set<string>();
  for (const m of text.matchAll(/^export\s+(?:default\b|(?:abstract\s+)?(?:class|const|function)\s+(\w+))/gm)) names.add(m[1] ?? "default");
  for (const m of text.matchAll(/^export\s*\{([^}]*)\}/gm)) for (const part of m[1]!.split(",")) names.add(part.trim().split(/\s+as\s+/).at(-1)!);
  names.delete("");
  return [...names].sort();
};

it("the edge tests' entry exports everything the Worker's entry does", () => {
  const worker = exportsOf("edge/index.ts");
  expect(worker).toEqual(expect.arrayContaining(["ChatRoom", "StreamControl", "ViewerCounter", "default"]));
  expect(exportsOf("test/support/edge/edge-entry.ts")).toEqual(worker);
});
