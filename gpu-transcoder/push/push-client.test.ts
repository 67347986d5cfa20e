import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { pushPaths, type StreamManifest } from "../../shared/push-protocol.ts";
import { PushClient } from "./push-client.ts";

const MANIFEST: StreamManifest = {
  targetDuration: 2,
  partTarget: 0.5,
  renditions: [{ name: "180p", type: "video", codecs: "avc1.4d401e", bitrate: 400_000, width: 320, height: 180, fps: 30 }],
};

interface Seen {
  method: string;
  path: string;
  body: Buffer;
  headers: IncomingMessage["headers"];
}

/** A stand-in origin that records every request; thumbnail answers can be held or replaced. */
const stubOrigin = async () => {
  const seen: Seen[] = [];
  let holdThumbnails: Promise<void> | null = null;
  let thumbnailStatus = 200;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method!, path: req.url!, body: Buffer.concat(chunks), headers: req.headers });
      const answer = (status: number) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ ok: status < 300 }));
      if (req.url!.endsWith("/thumbnail.jpg")) void (holdThumbnails ?? Promise.resolve()).then(() => answer(thumbnailStatus));
      else answer(200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    thumbnails: () => seen.filter((s) => s.path.endsWith("/thumbnail.jpg")),
    hold(): () => void {
      let release!: () => void;
      holdThumbnails = new Promise<void>((r) => (release = r));
      return () => {
        holdThumbnails = null;
        release();
      };
    },
    set thumbnailStatus(s: number) {
      thumbnailStatus = s;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

const jpeg = (n: number) => new Uint8Array([0xff, 0xd8, n, 0xff, 0xd9]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitUntil = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(10);
  }
};

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const setup = async () => {
  const origin = await stubOrigin();
  const outcomes: string[] = [];
  const client = new PushClient({
    streamId: "demo",
    origins: [origin.url],
    token: "node-1.token",
    logger: pino({ level: "silent" }),
    onThumbnail: (outcome) => outcomes.push(outcome),
  });
  cleanup.push(() => client.close(), () => origin.close());
  return { origin, client, outcomes };
};

describe("push client: thumbnails", () => {
  it("waits for the manifest, then PUTs the JPEG with the node token", async () => {
    const { origin, client, outcomes } = await setup();
    client.pushThumbnail(jpeg(1));
    await sleep(50);
    expect(origin.thumbnails()).toHaveLength(0);
    await client.setManifest(MANIFEST);
    await client.thumbnailsIdle();
    expect(origin.seen.map((s) => `${s.method} ${s.path}`)).toEqual([`PUT ${pushPaths.manifest("demo")}`, `PUT ${pushPaths.thumbnail("demo")}`]);
    const t = origin.thumbnails()[0]!;
    expect(t.path).toBe("/ingest/v1/streams/demo/thumbnail.jpg");
    expect(t.headers["authorization"]).toBe("Bearer node-1.token");
    expect(t.headers["content-type"]).toBe("image/jpeg");
    expect([...t.body]).toEqual([...jpeg(1)]);
    expect(outcomes).toEqual(["ok"]);
    expect(client.pendingCount()).toBe(0);
  });

  it("latest wins while one is in flight, and parts never wait for a thumbnail", async () => {
    const { origin, client } = await setup();
    await client.setManifest(MANIFEST);
    const release = origin.hold();
    client.pushThumbnail(jpeg(1));
    await waitUntil(() => origin.thumbnails().length === 1);
    for (let n = 2; n <= 5; n++) client.pushThumbnail(jpeg(n));
    // Parts go through while the thumbnail request hangs.
    for (let part = 0; part < 3; part++) {
      client.pushPart("180p", { msn: 0, part, duration: 0.5, independent: part === 0, bytes: new Uint8Array(16) });
    }
    await waitUntil(() => origin.seen.filter((s) => s.path.includes("/parts/")).length === 3);
    expect(await client.flush(2000)).toBe(true);
    release();
    await client.thumbnailsIdle();
    // Only the newest of the four queued while the first was in flight is sent.
    expect(origin.thumbnails().map((t) => t.body[2])).toEqual([1, 5]);
  });

  it("a failed thumbnail is retried once unless a newer one waits; a refused one (4xx) is dropped", async () => {
    const { origin, client, outcomes } = await setup();
    await client.setManifest(MANIFEST);
    origin.thumbnailStatus = 503;
    client.pushThumbnail(jpeg(1));
    await client.thumbnailsIdle();
    expect(origin.thumbnails().map((t) => t.body[2])).toEqual([1, 1]);
    expect(outcomes).toEqual(["dropped"]);
    origin.thumbnailStatus = 400;
    client.pushThumbnail(jpeg(2));
    await client.thumbnailsIdle();
    expect(origin.thumbnails().map((t) => t.body[2])).toEqual([1, 1, 2]);
    origin.thumbnailStatus = 200;
    client.pushThumbnail(jpeg(3));
    await client.thumbnailsIdle();
    expect(outcomes).toEqual(["dropped", "dropped", "ok"]);
  });

  it("sends nothing once closed", async () => {
    const { origin, client } = await setup();
    await client.setManifest(MANIFEST);
    client.close();
    client.pushThumbnail(jpeg(1));
    await client.thumbnailsIdle();
    expect(origin.thumbnails()).toHaveLength(0);
  });
});
