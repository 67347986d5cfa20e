import { describe, expect, it } from "vitest";
import { pushPaths } from "../../shared/push-protocol.ts";
import { ROUTE_CLASSES, routeClass } from "./route-class.ts";

describe("routeClass", () => {
  it("names every push route by what it carries", () => {
    expect(routeClass(pushPaths.manifest("demo"))).toBe("push_manifest");
    expect(routeClass(pushPaths.init("demo", "720p", 3))).toBe("push_init");
    expect(routeClass(pushPaths.part("demo", "720p", 12, 3))).toBe("push_part");
    expect(routeClass(pushPaths.segment("demo", "audio", 12))).toBe("push_segment");
    expect(routeClass(pushPaths.renditionEnd("demo", "720p"))).toBe("push_rendition_end");
    expect(routeClass(pushPaths.end("demo"))).toBe("push_end");
    expect(routeClass(pushPaths.thumbnail("demo"))).toBe("push_thumbnail");
    expect(routeClass(`${pushPaths.manifest("demo")}/archive`)).toBe("archive");
  });

  it("names viewer routes by resource kind", () => {
    expect(routeClass("/live/streams")).toBe("streams");
    expect(routeClass("/live/demo/master.m3u8")).toBe("master");
    expect(routeClass("/live/demo/720p/index.m3u8")).toBe("playlist");
    expect(routeClass("/live/demo/720p/init0.mp4")).toBe("init");
    expect(routeClass("/live/demo/720p/seg41.m4s")).toBe("segment");
    expect(routeClass("/live/demo/720p/part41.2.m4s")).toBe("part");
    expect(routeClass("/live/demo/thumbnail.jpg")).toBe("thumbnail");
    expect(routeClass("/healthz")).toBe("healthz");
    expect(routeClass("/metrics")).toBe("metrics");
  });

  it("puts everything else in one class, so made-up paths cannot add series", () => {
    for (const path of ["/", "/wp-login.php", "/live/demo/../../etc/passwd", "/live/demo/720p/part1.m4s", `${pushPaths.manifest("demo")}/nope/x`, `${pushPaths.part("demo", "720p", 1, 2)}/extra`]) {
      expect(routeClass(path)).toBe("other");
    }
    const seen = new Set(["/a", "/b/c", "/live/x/y/z", "/ingest/v1/streams/a/b/c/d/e/f"].map(routeClass));
    for (const c of seen) expect(ROUTE_CLASSES).toContain(c);
  });
});
