import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { NodeHeartbeat } from "./heartbeat.ts";

const servers: Server[] = [];
const beats: NodeHeartbeat[] = [];
afterEach(async () => {
  for (const b of beats.splice(0)) b.stop();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const silent = { info: () => {}, warn: () => {}, error: () => {} };
const until = async (cond: () => boolean, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A control plane that answers every request 200 `{}`, closed after the test. */
const answeringServer = () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  servers.push(server);
  return server;
};

describe("NodeHeartbeat", () => {
  it("registers with description and capacity, heartbeats, and registers again after a 404", async () => {
    const seen: Array<{ url: string; auth?: string; body: Record<string, unknown> }> = [];
    let forget = false;
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ url: req.url!, auth: req.headers.authorization, body: JSON.parse(body) as Record<string, unknown> });
        const notRegistered = req.url === "/api/v1/nodes/heartbeat" && forget;
        if (notRegistered) forget = false;
        res.writeHead(notRegistered ? 404 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify(notRegistered ? { error: "node not registered; register first" } : { ok: true, heartbeat_interval_s: 10 }));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let used = 0;
    const hb = new NodeHeartbeat({
      baseUrl: url,
      nodeToken: "node-1.sig",
      intervalMs: 20,
      logger: silent,
      describe: () => ({ control_url: "http://127.0.0.1:8090", rtmp_url: "rtmp://127.0.0.1:1935/live", version: "test" }),
      capacity: () => ({ slots: 4, slots_used: used, encoder: "libx264", load: 0.5, speed: 1.2 }),
    });
    beats.push(hb);
    hb.start();
    await until(() => seen.length >= 3);
    expect(seen[0]).toMatchObject({ url: "/api/v1/nodes/register", auth: "Bearer node-1.sig", body: { control_url: "http://127.0.0.1:8090", slots: 4, encoder: "libx264", load: 0.5, speed: 1.2, slots_used: 0 } });
    expect(seen[1]!.url).toBe("/api/v1/nodes/heartbeat");
    expect(seen[1]!.body).toEqual({ slots: 4, slots_used: 0, encoder: "libx264", load: 0.5, speed: 1.2 });
    used = 2;
    forget = true;
    const at = seen.length;
    await until(() => seen.slice(at).some((s) => s.url === "/api/v1/nodes/register"));
    await until(() => seen.slice(at).filter((s) => s.url === "/api/v1/nodes/heartbeat").length >= 2);
    expect(seen.at(-1)!.body.slots_used).toBe(2);
    expect(hb.isRegistered).toBe(true);
    hb.stop();
    const stoppedAt = seen.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length - stoppedAt).toBeLessThanOrEqual(1);
  });

  it("keeps retrying while the control plane is down, then registers", async () => {
    const server = answeringServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    servers.pop();
    const hb = new NodeHeartbeat({ baseUrl: `http://127.0.0.1:${port}`, nodeToken: "t", intervalMs: 20, logger: silent, describe: () => ({ control_url: "", rtmp_url: "", version: "" }), capacity: () => ({ slots: 1, slots_used: 0, encoder: "libx264", load: 0, speed: 1 }) });
    beats.push(hb);
    hb.start();
    await until(() => hb.beats >= 3);
    expect(hb.isRegistered).toBe(false);
    const again = answeringServer();
    await new Promise<void>((r) => again.listen(port, "127.0.0.1", () => r()));
    await until(() => hb.isRegistered);
  });
});
