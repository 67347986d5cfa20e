import { describe, expect, it } from "vitest";
import { apiClient } from "../../test/support/edge/api-client.ts";
import { FORWARDED_HEADER } from "./control-plane-forward.ts";

const CONTROL_PLANE_URL = "http://edge-1.test";

const recorder = () => {
  const seen: Array<{ method: string; url: string; headers: Headers; body: string }> = [];
  const forward = async (req: Request) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, body: await req.text() });
    return Response.json({ from: "edge-1" }, { status: 201, headers: { "x-upstream": "yes" } });
  };
  return { seen, forward };
};

describe("CONTROL_PLANE_URL forwarding (local multi-edge)", () => {
  it("forwards control-plane routes unchanged and answers with the control plane's response", async () => {
    const r = recorder();
    const api = apiClient({ forward: r.forward, env: { CONTROL_PLANE_URL, EDGE_ID: "edge-2" } });
    const res = await api.call("POST", "/api/v1/streams?x=1", { token: "user-token", json: { title: "Forwarded" }, headers: { "x-custom": "kept" } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ from: "edge-1" });
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(r.seen).toHaveLength(1);
    const [sent] = r.seen;
    expect(sent).toMatchObject({ method: "POST", url: `${CONTROL_PLANE_URL}/api/v1/streams?x=1`, body: JSON.stringify({ title: "Forwarded" }) });
    expect(sent!.headers.get("authorization")).toBe("Bearer user-token");
    expect(sent!.headers.get("content-type")).toBe("application/json");
    expect(sent!.headers.get("x-custom")).toBe("kept");
    expect(sent!.headers.get(FORWARDED_HEADER)).toBe("edge-2");
    for (const [method, path] of [["GET", "/api/v1/streams/search?q=a"], ["GET", "/api/v1/categories"], ["PATCH", "/api/v1/streams/abc"], ["POST", "/api/v1/ingest/authorize"], ["GET", "/api/v1/me"], ["GET", "/api/v1/unknown"]]) {
      await api.call(method!, path!, method === "GET" ? {} : { json: {} });
      expect(r.seen.at(-1)!.url).toBe(`${CONTROL_PLANE_URL}${path}`);
      expect(r.seen.at(-1)!.method).toBe(method);
    }
  });

  it("serves the edge's own endpoints and already-forwarded requests itself", async () => {
    const r = recorder();
    const api = apiClient({ forward: r.forward, upstream: async () => Response.json([]), env: { CONTROL_PLANE_URL } });
    expect((await api.call("GET", "/api/v1/live")).status).toBe(200);
    expect((await api.call("POST", "/api/v1/edge/prewarm/demo")).status).toBe(401);
    const local = await api.call("GET", "/api/v1/categories", { headers: { [FORWARDED_HEADER]: "edge-3" } });
    expect(local.status).toBe(200);
    expect(local.body).toHaveProperty("categories");
    expect(r.seen).toHaveLength(0);
  });

  it("502 when the control plane cannot be reached; nothing is forwarded without CONTROL_PLANE_URL", async () => {
    const down = apiClient({ forward: () => Promise.reject(new Error("connection refused")), env: { CONTROL_PLANE_URL } });
    const res = await down.call("GET", "/api/v1/categories");
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error: "control plane unreachable", detail: "connection refused" });
    const r = recorder();
    const direct = apiClient({ forward: r.forward });
    expect((await direct.call("GET", "/api/v1/categories")).status).toBe(200);
    expect(r.seen).toHaveLength(0);
  });
});
