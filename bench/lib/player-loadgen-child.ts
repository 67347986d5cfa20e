/**
 * Load-generator process for edge-offload: simulated LL-HLS players, each doing what hls.js does in
 * low-latency mode on a live stream:
 *
 *   join:  a plain media playlist reload, then follow the PRELOAD-HINT;
 *   loop:  a blocking reload `?_HLS_msn=M&_HLS_part=P` for the next part; when it answers, GET the
 *          part it now lists (on a second keep-alive connection, as a browser fetches media beside
 *          the playlist) and at once ask for the following part.
 *
 * Every client starts at its own random offset in the ramp window, so joins and first fetches are
 * spread like real viewers arriving; after that the blocking reloads pace them on the stream.
 * Requests have timeouts (counted, then the client reconnects and joins again). The minimal
 * keep-alive client of http-client.ts keeps thousands of clients cheap here.
 * Only node: modules and small helpers here: this file must not pull in the benchmark's own state.
 */
import { monoMs, sleep } from "./clock.ts";
import { KeepAliveClient } from "./http-client.ts";
import { serveLoad } from "./child-main.ts";
import { attemptWithin, playlistBody, PLAYER_REQUEST_HEADERS, preloadHint, type Attempt } from "./llhls-requests.ts";
import type { FromPlayerLoadgen, PlayerLoadgenStart, PlayerTarget, TargetTally } from "./player-loadgen-protocol.ts";

const CACHE_HEADER = /\r\nx-cascade-cache:\s*([A-Z]+)/i;


const send = (msg: FromPlayerLoadgen, then?: () => void) => process.send!(msg, undefined, undefined, then);


const run = async (cfg: PlayerLoadgenStart, stopped: Promise<void>) => {
  const playlistRecords: number[] = [];
  const partRecords: number[] = [];
  let running = true;
  const state = cfg.targets.map(() => ({
    sent: { plain: 0, blocking: 0, part: 0 },
    blockingKeys: new Set<string>(),
    partKeys: new Set<string>(),
    cache: {} as Record<string, number>,
    errors: {} as Record<string, number>,
    partNotListed: 0,
    partSkipped: 0,
    bodyBytes: 0,
  }));
  const bump = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);

  const attempt = attemptWithin;

  const client = async (t: PlayerTarget, ti: number, done: () => void) => {
    const st = state[ti]!;
    const url = new URL(t.baseUrl);
    const host = url.hostname;
    const port = Number(url.port);
    const dir = `${t.streamPath}/${cfg.rendition}`;
    const playlist = `${dir}/index.m3u8`;
    const pl = new KeepAliveClient(host, port, PLAYER_REQUEST_HEADERS);
    const media = new KeepAliveClient(host, port, PLAYER_REQUEST_HEADERS);
    let partInFlight = false;
    const outcome = (kind: string, res: Attempt) => {
      if (!("head" in res)) return;
      const m = CACHE_HEADER.exec(res.head);
      if (m) bump(st.cache, `${kind} ${m[1]!.toUpperCase()}`);
    };
    const failed = (kind: string, res: Attempt) => bump(st.errors, `${kind} ${"error" in res ? res.error : res.status}`);

    const fetchPart = async (msn: number, part: number) => {
      partInFlight = true;
      st.sent.part++;
      st.partKeys.add(`${msn}.${part}`);
      const res = await attempt(media, `${dir}/part${msn}.${part}.m4s`, cfg.partTimeoutMs);
      const at = monoMs();
      partInFlight = false;
      outcome("part", res);
      if (res.status === 200 && "body" in res) {
        partRecords.push(ti, msn, part, at);
        st.bodyBytes += res.body.length;
      } else failed("part", res);
    };

    const join = async (): Promise<{ msn: number; part: number } | null> => {
      while (running) {
        st.sent.plain++;
        const res = await attempt(pl, playlist, cfg.playlistTimeoutMs);
        outcome("plain", res);
        const body = playlistBody(res);
        const hint = body ? preloadHint(body) : null;
        if (hint) return hint;
        failed("plain", res);
        await sleep(250 + Math.random() * 250);
      }
      return null;
    };

    await sleep(Math.random() * cfg.rampMs);
    let next = running ? await join() : null;
    done();
    let lastPart: Promise<void> = Promise.resolve();
    while (running && next) {
      const want = next;
      st.sent.blocking++;
      st.blockingKeys.add(`${want.msn}.${want.part}`);
      const res = await attempt(pl, `${playlist}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`, cfg.playlistTimeoutMs);
      const at = monoMs();
      outcome("blocking", res);
      const body = playlistBody(res);
      const hint = body ? preloadHint(body) : null;
      if (body && "body" in res) {
        playlistRecords.push(ti, want.msn, want.part, at);
        st.bodyBytes += res.body.length;
        if (body.includes(`part${want.msn}.${want.part}.m4s"`)) {
          if (partInFlight) st.partSkipped++;
          else lastPart = fetchPart(want.msn, want.part);
        } else st.partNotListed++;
      }
      if (hint) {
        next = hint;
      } else {
        failed("blocking", res);
        if (!running) break;
        await sleep(250 + Math.random() * 250);
        next = await join();
      }
    }
    await lastPart;
    pl.close();
    media.close();
  };

  let joined = 0;
  const total = cfg.targets.reduce((n, t) => n + t.clients, 0);
  const onJoined = () => {
    if (++joined === total) send({ type: "ready", atMs: monoMs() });
  };
  const clients = cfg.targets.flatMap((t, ti) => Array.from({ length: t.clients }, () => client(t, ti, onJoined)));
  await stopped;
  running = false;
  // Every request in flight is answered by the next part (or times out): let them finish, so each
  // request sent has also been answered and counted by the server.
  await Promise.race([Promise.all(clients), sleep(cfg.playlistTimeoutMs + 2000)]);
  const tallies: TargetTally[] = state.map((s) => ({
    sent: s.sent,
    blockingKeys: [...s.blockingKeys],
    partKeys: [...s.partKeys],
    cache: s.cache,
    errors: s.errors,
    partNotListed: s.partNotListed,
    partSkipped: s.partSkipped,
    bodyBytes: s.bodyBytes,
  }));
  send({ type: "result", targets: cfg.targets.map((t) => t.label), playlistRecords, partRecords, tallies }, () => process.exit(0));
};

serveLoad<PlayerLoadgenStart>(run, send);
