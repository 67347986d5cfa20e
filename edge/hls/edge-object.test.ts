import { describe, expect, it } from "vitest";
import { resolveEdgeObject } from "./edge-object.ts";

const key = (path: string, query: string) => {
  const r = resolveEdgeObject("demo", path, new URLSearchParams(query));
  return r.ok ? r.object.key : `${r.status} ${r.error}`;
};

describe("cache key normalisation (MediaPackage LL-HLS CDN guide)", () => {
  it("orders directives, drops other _HLS_ and unknown parameters", () => {
    expect(key("720p/index.m3u8", "_HLS_part=2&_HLS_msn=10")).toBe("demo/720p/index.m3u8?_HLS_msn=10&_HLS_part=2");
    expect(key("720p/index.m3u8", "_HLS_msn=10&_HLS_part=2")).toBe("demo/720p/index.m3u8?_HLS_msn=10&_HLS_part=2");
    expect(key("720p/index.m3u8", "_HLS_skip=YES&_HLS_msn=10&_HLS_future=1&utm=x")).toBe("demo/720p/index.m3u8?_HLS_msn=10&_HLS_skip=YES");
    expect(key("720p/index.m3u8", "_HLS_skip=v2")).toBe("demo/720p/index.m3u8?_HLS_skip=v2");
    expect(key("720p/index.m3u8", "_HLS_skip=NO")).toBe("demo/720p/index.m3u8");
    expect(key("720p/index.m3u8", "")).toBe("demo/720p/index.m3u8");
  });

  it("ignores directives on anything but a media playlist", () => {
    expect(key("720p/part10.2.m4s", "_HLS_msn=10&_HLS_part=2")).toBe("demo/720p/part10.2.m4s");
    expect(key("master.m3u8", "_HLS_msn=10")).toBe("demo/master.m3u8");
  });

  it("rejects a part without an msn and malformed integers (RFC 8216bis §6.2.5.2)", () => {
    expect(key("720p/index.m3u8", "_HLS_part=2")).toBe("400 _HLS_part requires _HLS_msn");
    for (const bad of ["_HLS_msn=-1", "_HLS_msn=1e3", "_HLS_msn=01", "_HLS_msn=abc", "_HLS_msn=", "_HLS_msn=10&_HLS_part=x"]) {
      expect(key("720p/index.m3u8", bad)).toMatch(/^400 /);
    }
  });

  it("accepts only the stream layout and strict ids", () => {
    expect(key("../secret", "")).toBe("404 no such resource");
    expect(key("720p/../../etc/passwd", "")).toBe("404 no such resource");
    expect(key("720P/index.m3u8", "")).toBe("404 no such resource");
    expect(key("720p/seg1.ts", "")).toBe("404 no such resource");
    const badId = resolveEdgeObject("Demo!", "master.m3u8", new URLSearchParams());
    expect(badId.ok ? "ok" : badId.status).toBe(400);
  });
});
