/**
 * Chat load-generator process (chat-delivery): holds many WebSocket clients (the `ws` package) of one
 * chat room, some of them writers, and measures delivery. Forked by bench/chat-delivery.ts, usually
 * twice, so the clients' CPU is spread over processes and never charged to the server.
 *
 * - `connect`: opens more sockets (a bounded number of handshakes in flight) and reports progress
 *   until every new socket has its first frame (the `welcome`).
 * - `run`: one load phase. Message k of the phase (global sequence number firstSeq + k) is due at
 *   t0 + k / rate and is sent by writer k mod writers — the writers this process holds send theirs.
 *   The text carries the send time on the shared monotonic clock (clock.ts) and the sequence
 *   number, `t=<ms> n=<seq>`; every receiver takes its receive time once per WebSocket message
 *   (a message may carry one frame or a JSON array of coalesced frames) and records
 *   latency = receive − send. After the last send it waits until the phase's messages stop
 *   arriving, then reports.
 *
 * Receiving 1,000,000 frames per second is the hard part on the client side, so incoming messages
 * are not JSON-parsed: the bytes are scanned for the `"text":"t=` marker (JSON.stringify never
 * produces it other than in a text value that starts with `t=`). Only messages that carry an
 * `error` frame, and the welcome, are parsed.
 */
import WebSocket from "ws";
import { monoMs, sleep, sleepUntil } from "./clock.ts";

export interface ChatConnect {
  type: "connect";
  /** `ws://host:port/path`, without a query. */
  url: string;
  /** New read-only sockets to open (no token). */
  readers: number;
  /** New writer sockets: their global writer index and the query string that signs them in (`token=…`). */
  writers: Array<{ index: number; query: string }>;
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Give up on a socket that has no welcome after this long. */
  timeoutMs: number;
}

export interface ChatRun {
  type: "run";
  label: string;
  /** Monotonic ms of message 0. */
  t0: number;
  /** Messages per second (all writers together). */
  rate: number;
  /** Messages in the phase (warm-up + measured). */
  count: number;
  /** Messages of the warm-up (not in the latency figures). */
  warmCount: number;
  /** Writers in the whole run (message k is sent by writer k mod writers). */
  writers: number;
  /** Global sequence number of message 0 (texts stay unique across phases for the repeat guard). */
  firstSeq: number;
  /** After the last send: report once no message of the phase arrived for quietMs, or after maxDrainMs. */
  quietMs: number;
  maxDrainMs: number;
}

export type ToChatClient = ChatConnect | ChatRun | { type: "close" };

/** Latency histogram: 0.1 ms buckets up to HIST_MAX_MS (later arrivals go to `overflow`). */
export const HIST_BUCKET_MS = 0.1;
export const HIST_MAX_MS = 60_000;

export interface ChatRunResult {
  type: "result";
  label: string;
  /** [k, send time] of the messages this process sent (k relative to firstSeq). */
  sent: Array<[number, number]>;
  /** Sends that threw (socket not open). */
  sendFailures: number;
  /** error frames received by this process's writers, by code. */
  errors: Record<string, number>;
  /** Per message k of the phase: how many of this process's sockets received it. */
  received: number[];
  /** Sparse latency histogram of the measured messages: [bucket, count]. */
  hist: Array<[number, number]>;
  overflow: number;
  /** Deliveries of the measured messages (k ≥ warmCount), and when the first and the last of them arrived (monotonic ms). */
  measuredDeliveries: number;
  measuredFirstAt: number;
  measuredLastAt: number;
  /** All deliveries of this phase's messages. */
  deliveries: number;
  /** The same message twice on one socket. */
  duplicates: number;
  /** A socket received a lower sequence number after a higher one (send races between writers are normal here). */
  inversions: number;
  /** Frames of earlier phases that arrived during this one. */
  stale: number;
  /** WebSocket messages received, and how many were JSON arrays (coalesced) and the frames in those. */
  wsMessages: number;
  arrayMessages: number;
  framesInArrays: number;
  /** Messages without a chat message in them (viewer counts, system events …). */
  otherMessages: number;
  /** Per socket: `<frames received>:<hash of their order>` → sockets (sockets that saw the same messages in the same order share a key). */
  orders: Record<string, number>;
  /** Sockets closed during the phase, by close code. */
  closed: Record<string, number>;
  /** Monotonic ms of the last delivery of the phase. */
  lastDeliveryAt: number;
}

export interface ChatProgress {
  type: "progress";
  open: number;
  welcomed: number;
  failed: number;
}

export interface ChatConnected {
  type: "connected";
  welcomed: number;
  failed: number;
  /** Why sockets failed, by message. */
  failures: Record<string, number>;
  /** Welcomes that said the writer cannot write (can_write false). */
  writersRefused: number;
}

export type FromChatClient = ChatProgress | ChatConnected | ChatRunResult | { type: "failed"; error: string };

const MARKER = Buffer.from('"text":"t=');
const ERROR_MARKER = Buffer.from('"type":"error"');
const CH_SPACE = 0x20;
const CH_DOT = 0x2e;
const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_N = 0x6e;
const CH_EQ = 0x3d;
const CH_BRACKET = 0x5b;

/** What a phase accumulates: the result's counters, with the histogram and the per-message counts as typed arrays. */
interface Phase extends Omit<ChatRunResult, "type" | "label" | "sent" | "sendFailures" | "orders" | "hist" | "received"> {
  run: ChatRun;
  hist: Uint32Array;
  received: Uint32Array;
}

interface Client {
  ws: WebSocket;
  welcomed: boolean;
  writer: number | null;
  /** Per-phase state: a bitmap of the messages seen (duplicates), the last sequence number, the order hash. */
  seen: Uint8Array | null;
  lastK: number;
  hash: number;
  count: number;
}

const clients: Client[] = [];
const writers = new Map<number, Client>();
let phase: Phase | null = null;

const send = (msg: FromChatClient): void => {
  process.send!(msg);
};

/** Parses `t=<ms> n=<seq>` starting right after the marker; returns false if malformed. */
const parseAt = (buf: Buffer, i: number, out: { t: number; n: number }): boolean => {
  let intPart = 0;
  let frac = 0;
  let scale = 1;
  let c = buf[i]!;
  if (c < CH_0 || c > CH_9) return false;
  while (c >= CH_0 && c <= CH_9) {
    intPart = intPart * 10 + (c - CH_0);
    c = buf[++i]!;
  }
  if (c === CH_DOT) {
    c = buf[++i]!;
    while (c >= CH_0 && c <= CH_9) {
      scale /= 10;
      frac += (c - CH_0) * scale;
      c = buf[++i]!;
    }
  }
  if (c !== CH_SPACE || buf[i + 1] !== CH_N || buf[i + 2] !== CH_EQ) return false;
  i += 3;
  c = buf[i]!;
  if (c < CH_0 || c > CH_9) return false;
  let n = 0;
  while (c >= CH_0 && c <= CH_9) {
    n = n * 10 + (c - CH_0);
    c = buf[++i]!;
  }
  out.t = intPart + frac;
  out.n = n;
  return true;
};

const parsed = { t: 0, n: 0 };

const onData = (client: Client, data: Buffer): void => {
  const now = monoMs();
  const p = phase;
  if (!client.welcomed) {
    client.welcomed = true;
    welcomedCount++;
    try {
      const welcome = JSON.parse(data.toString("utf8")) as { type?: string; event?: string; can_write?: boolean };
      if (welcome.type !== "system" || welcome.event !== "welcome") firstFrameNotWelcome++;
      else if (client.writer !== null && welcome.can_write !== true) writersRefused++;
    } catch {
      firstFrameNotWelcome++;
    }
    return;
  }
  if (!p) return;
  p.wsMessages++;
  const isArray = data[0] === CH_BRACKET;
  if (isArray) p.arrayMessages++;
  const run = p.run;
  let frames = 0;
  for (let at = data.indexOf(MARKER); at !== -1; at = data.indexOf(MARKER, at + MARKER.length)) {
    if (!parseAt(data, at + MARKER.length, parsed)) continue;
    frames++;
    const k = parsed.n - run.firstSeq;
    if (k < 0 || k >= run.count) {
      p.stale++;
      continue;
    }
    const seen = client.seen!;
    if (seen[k >> 3]! & (1 << (k & 7))) {
      p.duplicates++;
      continue;
    }
    seen[k >> 3]! |= 1 << (k & 7);
    if (k < client.lastK) p.inversions++;
    client.lastK = k;
    client.hash = (Math.imul(client.hash ^ k, 0x01000193) + 0x9e3779b9) >>> 0;
    client.count++;
    p.received[k]!++;
    p.deliveries++;
    p.lastDeliveryAt = now;
    if (k >= run.warmCount) {
      p.measuredDeliveries++;
      if (p.measuredFirstAt === 0) p.measuredFirstAt = now;
      p.measuredLastAt = now;
      const bucket = Math.floor((now - parsed.t) / HIST_BUCKET_MS);
      if (bucket < 0) p.hist[0]!++;
      else if (bucket >= p.hist.length) p.overflow++;
      else p.hist[bucket]!++;
    }
  }
  if (isArray) p.framesInArrays += frames;
  if (frames === 0) p.otherMessages++;
  if (client.writer !== null && data.indexOf(ERROR_MARKER) !== -1) {
    try {
      const value = JSON.parse(data.toString("utf8")) as unknown;
      for (const f of Array.isArray(value) ? value : [value]) {
        const frame = f as { type?: string; code?: string };
        if (frame.type === "error") p.errors[frame.code ?? "?"] = (p.errors[frame.code ?? "?"] ?? 0) + 1;
      }
    } catch {
      p.errors.unparseable = (p.errors.unparseable ?? 0) + 1;
    }
  }
};

let openCount = 0;
let welcomedCount = 0;
let failedCount = 0;
let writersRefused = 0;
let firstFrameNotWelcome = 0;

const connect = async (msg: ChatConnect): Promise<ChatConnected> => {
  const failures: Record<string, number> = {};
  const fail = (why: string) => {
    failedCount++;
    failures[why] = (failures[why] ?? 0) + 1;
  };
  const jobs: Array<{ writer: number | null; url: string }> = [
    ...msg.writers.map((w) => ({ writer: w.index, url: `${msg.url}?${w.query}` })),
    ...Array.from({ length: msg.readers }, () => ({ writer: null, url: msg.url })),
  ];
  const open = (job: { writer: number | null; url: string }) =>
    new Promise<void>((resolve) => {
      // No permessage-deflate (the server would compress every frame for every socket); no UTF-8 validation of what we only scan.
      const ws = new WebSocket(job.url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: msg.timeoutMs });
      const client: Client = { ws, welcomed: false, writer: job.writer, seen: null, lastK: -1, hash: 0, count: 0 };
      let settled = false;
      const timer = setTimeout(() => done("no welcome in time"), msg.timeoutMs);
      const done = (why: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (why) {
          fail(why);
          ws.terminate();
        } else {
          clients.push(client);
          if (job.writer !== null) writers.set(job.writer, client);
        }
        resolve();
      };
      ws.on("open", () => openCount++);
      ws.on("message", (data) => {
        const wasWelcomed = client.welcomed;
        onData(client, data as Buffer);
        if (!wasWelcomed) done(null);
      });
      ws.on("unexpected-response", (_req, res) => done(`HTTP ${res.statusCode}`));
      ws.on("error", (err) => done((err as NodeJS.ErrnoException).code ?? err.message.slice(0, 80)));
      ws.on("close", (code) => {
        if (!settled) done(`closed ${code} before the welcome`);
        else if (phase) phase.closed[code] = (phase.closed[code] ?? 0) + 1;
        else closedBetweenPhases++;
      });
    });
  const progress = setInterval(() => send({ type: "progress", open: openCount, welcomed: welcomedCount, failed: failedCount }), 1000);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) await open(jobs[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(msg.concurrency, jobs.length) }, lane));
  clearInterval(progress);
  if (firstFrameNotWelcome > 0) failures["first frame was not the welcome"] = firstFrameNotWelcome;
  return { type: "connected", welcomed: clients.length, failed: failedCount, failures, writersRefused };
};

let closedBetweenPhases = 0;

const runPhase = async (run: ChatRun): Promise<ChatRunResult> => {
  const p: Phase = {
    run,
    hist: new Uint32Array(Math.ceil(HIST_MAX_MS / HIST_BUCKET_MS)),
    overflow: 0,
    received: new Uint32Array(run.count),
    measuredDeliveries: 0,
    measuredFirstAt: 0,
    measuredLastAt: 0,
    deliveries: 0,
    duplicates: 0,
    inversions: 0,
    stale: 0,
    wsMessages: 0,
    arrayMessages: 0,
    framesInArrays: 0,
    otherMessages: 0,
    errors: {},
    closed: closedBetweenPhases > 0 ? { "before the phase": closedBetweenPhases } : {},
    lastDeliveryAt: 0,
  };
  closedBetweenPhases = 0;
  const bitmapBytes = Math.ceil(run.count / 8);
  for (const c of clients) {
    c.seen = new Uint8Array(bitmapBytes);
    c.lastK = -1;
    c.hash = 0;
    c.count = 0;
  }
  phase = p;
  const sent: Array<[number, number]> = [];
  let sendFailures = 0;
  const interval = 1000 / run.rate;
  for (let k = 0; k < run.count; k++) {
    const w = writers.get(k % run.writers);
    if (!w) continue;
    await sleepUntil(run.t0 + k * interval);
    const seq = run.firstSeq + k;
    const t = monoMs();
    try {
      w.ws.send(`{"type":"message","text":"t=${t.toFixed(3)} n=${seq}"}`);
      sent.push([k, t]);
    } catch {
      sendFailures++;
    }
  }
  // Drain: until the phase's messages stop arriving.
  const lastSend = run.t0 + (run.count - 1) * interval;
  await sleepUntil(lastSend);
  const deadline = lastSend + run.maxDrainMs;
  for (;;) {
    const now = monoMs();
    if (now >= deadline) break;
    const since = now - Math.max(p.lastDeliveryAt, lastSend);
    if (since >= run.quietMs) break;
    await sleep(Math.min(run.quietMs - since, deadline - now) + 5);
  }
  phase = null;
  const orders: Record<string, number> = {};
  for (const c of clients) {
    const key = `${c.count}:${c.hash.toString(36)}`;
    orders[key] = (orders[key] ?? 0) + 1;
    c.seen = null;
  }
  const hist: Array<[number, number]> = [];
  for (let i = 0; i < p.hist.length; i++) if (p.hist[i]) hist.push([i, p.hist[i]!]);
  return {
    type: "result",
    label: run.label,
    sent,
    sendFailures,
    errors: p.errors,
    received: Array.from(p.received),
    hist,
    overflow: p.overflow,
    measuredDeliveries: p.measuredDeliveries,
    measuredFirstAt: p.measuredFirstAt,
    measuredLastAt: p.measuredLastAt,
    deliveries: p.deliveries,
    duplicates: p.duplicates,
    inversions: p.inversions,
    stale: p.stale,
    wsMessages: p.wsMessages,
    arrayMessages: p.arrayMessages,
    framesInArrays: p.framesInArrays,
    otherMessages: p.otherMessages,
    orders,
    closed: p.closed,
    lastDeliveryAt: p.lastDeliveryAt,
  };
};

// One command at a time, in order.
let queue: Promise<void> = Promise.resolve();
process.on("message", (msg: ToChatClient) => {
  queue = queue.then(async () => {
    try {
      if (msg.type === "connect") send(await connect(msg));
      else if (msg.type === "run") send(await runPhase(msg));
      else if (msg.type === "close") {
        for (const c of clients) c.ws.terminate();
        process.exit(0);
      }
    } catch (err) {
      send({ type: "failed", error: String((err as Error)?.stack ?? err) });
    }
  });
});
process.on("disconnect", () => process.exit(0));
