/**
 * Load-generator process: N LL-HLS clients, each looping blocking playlist reloads for the next
 * part (`?_HLS_msn=M&_HLS_part=P` from the PRELOAD-HINT), the way hls.js and AVPlayer follow a live
 * LL-HLS stream, each on its own keep-alive connection. It runs in its own process so the clients'
 * CPU is not charged to the server under test, and uses a minimal HTTP client (http-client.ts) so
 * that 1,000 responses to one part cost as little as possible here.
 * Only node: modules and small helpers here: this file must not pull in the benchmark's own state.
 */
import { monoMs, sleep } from "./clock.ts";
import { KeepAliveClient, type HttpResponse } from "./http-client.ts";
import { serveLoad } from "./child-main.ts";
import { preloadHint } from "./llhls-requests.ts";
import type { FromLoadgen, LoadgenStart } from "./loadgen-protocol.ts";



const send = (msg: FromLoadgen, then?: () => void) => process.send!(msg, undefined, undefined, then);

const run = async (cfg: LoadgenStart, stopped: Promise<void>) => {
  const url = new URL(cfg.playlistUrl);
  const path = url.pathname;
  const records: number[] = [];
  const errors: Record<string, number> = {};
  let responses = 0;
  let bodyBytes = 0;
  let running = true;
  const fail = (key: string) => (errors[key] = (errors[key] ?? 0) + 1);
  const attempt = (c: KeepAliveClient, target: string): Promise<HttpResponse | { status: -1; error: string }> =>
    c.get(target).catch((err: Error) => ({ status: -1 as const, error: err.message }));

  /** A plain (non-blocking) reload to find where the live edge is, as a player does on join or after an error. */
  const join = async (c: KeepAliveClient): Promise<{ msn: number; part: number } | null> => {
    while (running) {
      const res = await attempt(c, path);
      const hint = res.status === 200 && "body" in res ? preloadHint(res.body) : null;
      if (hint) return hint;
      fail("error" in res ? res.error : `join ${res.status}`);
      await sleep(250);
    }
    return null;
  };

  const client = async (i: number, joined: () => void) => {
    await sleep((cfg.rampMs * i) / cfg.clients);
    const c = new KeepAliveClient(url.hostname, Number(url.port));
    let next = await join(c);
    joined();
    while (running && next) {
      const want = next;
      const res = await attempt(c, `${path}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
      const at = monoMs();
      responses++;
      const hint = res.status === 200 && "body" in res ? preloadHint(res.body) : null;
      if (res.status === 200 && "body" in res) {
        records.push(want.msn, want.part, at);
        bodyBytes += res.body.length;
      }
      if (hint) {
        next = hint;
      } else {
        fail("error" in res ? res.error : res.status === 200 ? "200 without preload hint" : String(res.status));
        if (!running) break;
        await sleep(250);
        next = await join(c);
      }
    }
    c.close();
  };

  let joinedCount = 0;
  const clients = Array.from({ length: cfg.clients }, (_, i) =>
    client(i, () => {
      if (++joinedCount === cfg.clients) send({ type: "ready", atMs: monoMs() });
    }),
  );
  await stopped;
  running = false;
  // Each client's request in flight is answered by the next part (≤ one part target away); give
  // slow ones a bounded grace period, then report whatever arrived.
  await Promise.race([Promise.all(clients), sleep(8000)]);
  send({ type: "result", records, responses, errors, bodyBytes }, () => process.exit(0));
};

serveLoad<LoadgenStart>(run, send);
