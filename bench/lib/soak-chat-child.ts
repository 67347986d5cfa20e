/**
 * Chat load for the soak (bench/soak.ts): signed-in chatters (the `ws` package, one socket each,
 * spread over the edges) that keep a steady conversation going in one stream's chat room for as
 * long as the soak runs. Message k is due at t0 + k / rate and is sent by chatter k mod chatters
 * (each chatter stays far under the room's per-user rate limit); its text carries the send time on
 * the shared monotonic clock and a sequence number (`t=<ms> n=<seq>`: unique, so the repeat guard
 * never fires). Every socket records receive − send for every message it gets (alone or inside a
 * coalesced array); a message that has not reached every socket that was in the room when it was
 * sent within `deliveryDeadlineMs` counts its missing deliveries as lost. A socket that closes is
 * counted and reconnects after a second. Figures since the previous report go to the parent on
 * `sample`.
 */
import WebSocket from "ws";
import { monoMs, sleep, sleepUntil } from "./clock.ts";
import type { ChatReport, ChatStart, FromChat, ToChat } from "./soak-protocol.ts";

const TEXT = /"text":"t=([0-9.]+) n=([0-9]+)"/g;

interface Chatter {
  url: string;
  ws: WebSocket | null;
  welcomed: boolean;
  /** Sequence numbers this socket has received (pruned with the outstanding messages). */
  seen: Set<number>;
}

interface Outstanding {
  sentAt: number;
  /** Chatters whose socket was welcomed when the message was sent. */
  expected: Set<number>;
  got: number;
}

const send = (msg: FromChat) => process.send!(msg);

let running = true;
const chatters: Chatter[] = [];
const outstanding = new Map<number, Outstanding>();
let interval = freshInterval();

function freshInterval(): Omit<ChatReport, "type" | "open" | "latency" | "pending"> & { hist: Map<number, number> } {
  return { sent: 0, sendFailures: 0, errorFrames: {}, deliveries: 0, lost: 0, closed: {}, connectFailures: {}, reconnects: 0, hist: new Map() };
}

const bump = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);

const onMessage = (index: number, data: Buffer) => {
  const now = monoMs();
  const c = chatters[index]!;
  const text = data.toString("utf8");
  if (!c.welcomed) {
    c.welcomed = true;
    return;
  }
  if (text.includes('"type":"error"')) {
    try {
      const value = JSON.parse(text) as unknown;
      for (const f of Array.isArray(value) ? value : [value]) {
        const frame = f as { type?: string; code?: string };
        if (frame.type === "error") bump(interval.errorFrames, frame.code ?? "?");
      }
    } catch {
      bump(interval.errorFrames, "unparseable");
    }
  }
  for (const m of text.matchAll(TEXT)) {
    const seq = Number(m[2]);
    if (c.seen.has(seq)) continue;
    c.seen.add(seq);
    const o = outstanding.get(seq);
    if (!o) continue; // from before this run (history on join) or already written off
    if (!o.expected.has(index)) continue; // joined after it was sent (history)
    o.got++;
    interval.deliveries++;
    const b = Math.max(0, Math.round((now - Number(m[1])) * 10));
    interval.hist.set(b, (interval.hist.get(b) ?? 0) + 1);
  }
};

/** Opens chatter `index`'s socket; resolves once it is welcomed (true) or failed (false). */
const open = (index: number, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = chatters[index]!;
    const ws = new WebSocket(c.url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    c.ws = ws;
    c.welcomed = false;
    let settled = false;
    const timer = setTimeout(() => settle("no welcome in time"), timeoutMs);
    const settle = (why: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (why) {
        bump(interval.connectFailures, why);
        ws.terminate();
      }
      resolve(why === null);
    };
    ws.on("message", (data) => {
      onMessage(index, data as Buffer);
      if (c.welcomed) settle(null);
    });
    ws.on("unexpected-response", (_req, res) => settle(`HTTP ${res.statusCode}`));
    ws.on("error", (err) => settle((err as NodeJS.ErrnoException).code ?? err.message.slice(0, 80)));
    ws.on("close", (code) => {
      if (!settled) return settle(`closed ${code} before the welcome`);
      if (c.ws !== ws) return;
      c.ws = null;
      c.welcomed = false;
      if (!running) return;
      bump(interval.closed, String(code));
      void reconnect(index, timeoutMs);
    });
  });

const reconnect = async (index: number, timeoutMs: number) => {
  while (running) {
    await sleep(1000);
    if (!running) return;
    interval.reconnects++;
    if (await open(index, timeoutMs)) return;
  }
};

const report = (deadlineMs: number): ChatReport => {
  const now = monoMs();
  let pending = 0;
  for (const [seq, o] of outstanding) {
    const missing = o.expected.size - o.got;
    if (missing <= 0) {
      if (now - o.sentAt > deadlineMs) outstanding.delete(seq);
      continue;
    }
    if (now - o.sentAt > deadlineMs) {
      interval.lost += missing;
      outstanding.delete(seq);
    } else pending += missing;
  }
  // Forget what sockets saw of messages no longer tracked.
  const oldest = Math.min(...outstanding.keys());
  for (const c of chatters) for (const s of c.seen) if (!(s >= oldest)) c.seen.delete(s);
  const { hist, ...rest } = interval;
  interval = freshInterval();
  return { type: "report", open: chatters.filter((c) => c.welcomed).length, pending, ...rest, latency: [...hist.entries()] };
};

const run = async (cfg: ChatStart, stopped: Promise<void>) => {
  for (const s of cfg.sockets) chatters.push({ url: s.url, ws: null, welcomed: false, seen: new Set() });
  // A few handshakes at a time: each one is a D1 read and a token check on the edge.
  const ok: boolean[] = [];
  for (let i = 0; i < chatters.length; i += 8) ok.push(...(await Promise.all(chatters.slice(i, i + 8).map((_, j) => open(i + j, cfg.connectTimeoutMs)))));
  const failures = { ...interval.connectFailures };
  send({ type: "ready", open: ok.filter(Boolean).length, failures });
  interval = freshInterval();
  for (let i = 0; i < ok.length; i++) if (!ok[i]) void reconnect(i, cfg.connectTimeoutMs);

  process.on("message", (msg: ToChat) => {
    if (msg.type === "sample") send(report(cfg.deliveryDeadlineMs));
  });

  const t0 = monoMs() + 200;
  const gap = 1000 / cfg.rate;
  let stop = false;
  void stopped.then(() => (stop = true));
  for (let k = 0; !stop; k++) {
    await sleepUntil(t0 + k * gap);
    if (stop) break;
    const index = k % chatters.length;
    const c = chatters[index]!;
    if (!c.ws || !c.welcomed || c.ws.readyState !== WebSocket.OPEN) {
      interval.sendFailures++;
      continue;
    }
    const expected = new Set<number>();
    chatters.forEach((x, i) => {
      if (x.welcomed) expected.add(i);
    });
    const t = monoMs();
    try {
      c.ws.send(`{"type":"message","text":"t=${t.toFixed(3)} n=${k}"}`);
      outstanding.set(k, { sentAt: t, expected, got: 0 });
      interval.sent++;
    } catch {
      interval.sendFailures++;
    }
  }
  running = false;
  for (const c of chatters) c.ws?.terminate();
  process.exit(0);
};

let stopRun: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stopRun = resolve));
process.on("message", (msg: ToChat) => {
  if (msg.type === "start") {
    run(msg, stopped).catch((err: unknown) => {
      send({ type: "failed", error: String((err as Error)?.stack ?? err) });
      process.exit(1);
    });
  } else if (msg.type === "stop") {
    stopRun();
  }
});
process.on("disconnect", () => process.exit(0));
