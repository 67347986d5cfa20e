/**
 * Load-generator process: N LL-HLS clients, each looping blocking playlist reloads for the next
 * part (`?_HLS_msn=M&_HLS_part=P`), the way hls.js and AVPlayer follow a live LL-HLS stream.
 * It runs in its own process so the clients' CPU is not charged to the server under test.
 * Only node: modules and clock.ts here: this file must not pull in the benchmark's own state.
 */
import http from "node:http";
import { monoMs, sleep } from "./clock.ts";
import type { FromLoadgen, LoadgenStart, ToLoadgen } from "./loadgen-protocol.ts";

const HINT = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="[^"]*?part(\d+)\.(\d+)\.m4s"/;

const send = (msg: FromLoadgen, then?: () => void) => process.send!(msg, undefined, undefined, then);

const get = (agent: http.Agent, url: string): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      })
      .on("error", reject);
  });

const run = async (cfg: LoadgenStart, stopped: Promise<void>) => {
  // One socket per client: every client always has exactly one request in flight.
  const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.clients + 8, maxFreeSockets: cfg.clients + 8 });
  const records: number[] = [];
  const errors: Record<string, number> = {};
  let responses = 0;
  let bodyBytes = 0;
  let running = true;
  const fail = (key: string) => (errors[key] = (errors[key] ?? 0) + 1);

  /** A plain (non-blocking) reload to find where the live edge is, as a player does on join or after an error. */
  const join = async (): Promise<{ msn: number; part: number }> => {
    for (;;) {
      const res = await get(agent, cfg.playlistUrl).catch((err: NodeJS.ErrnoException) => ({ status: -1, text: err.code ?? String(err) }));
      const m = res.status === 200 ? HINT.exec(res.text) : null;
      if (m) return { msn: Number(m[1]), part: Number(m[2]) };
      fail(res.status === -1 ? res.text : `join ${res.status}`);
      await sleep(250);
    }
  };

  const client = async (i: number, joined: () => void) => {
    await sleep((cfg.rampMs * i) / cfg.clients);
    let next = await join();
    joined();
    while (running) {
      const want = next;
      const res = await get(agent, `${cfg.playlistUrl}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`).catch(
        (err: NodeJS.ErrnoException) => ({ status: -1, text: err.code ?? String(err) }),
      );
      const at = monoMs();
      responses++;
      const m = res.status === 200 ? HINT.exec(res.text) : null;
      if (res.status === 200) {
        records.push(want.msn, want.part, at);
        bodyBytes += Buffer.byteLength(res.text);
      }
      if (m) {
        next = { msn: Number(m[1]), part: Number(m[2]) };
      } else {
        fail(res.status === -1 ? res.text : res.status === 200 ? "200 without preload hint" : String(res.status));
        if (!running) break;
        await sleep(250);
        next = await join();
      }
    }
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
  agent.destroy();
  send({ type: "result", records, responses, errors, bodyBytes }, () => process.exit(0));
};

let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
process.on("message", (msg: ToLoadgen) => {
  if (msg.type === "start") {
    run(msg, stopped).catch((err: unknown) => send({ type: "failed", error: String((err as Error)?.stack ?? err) }, () => process.exit(1)));
  } else if (msg.type === "stop") {
    stop();
  }
});
// The parent went away: nothing left to measure for.
process.on("disconnect", () => process.exit(0));
