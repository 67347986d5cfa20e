/**
 * Load-generator process for the soak (bench/soak.ts): simulated LL-HLS viewers that keep playing
 * for as long as the soak runs, each doing what hls.js does in low-latency mode (the same loop as
 * player-loadgen-child.ts):
 *
 *   join:  a plain media playlist load, then follow the PRELOAD-HINT;
 *   loop:  a blocking reload `?_HLS_msn=M&_HLS_part=P` for the next part; when it answers, GET the
 *          part it now lists (on a second keep-alive connection) and at once ask for the next one.
 *
 * For every part it fetches, a viewer works out the part's PROGRAM-DATE-TIME from the blocking
 * playlist that listed it (the segment's PROGRAM-DATE-TIME + the durations of the parts before it in
 * that segment) and, when the part's bytes arrive, records wall clock − that time: the capture-to-
 * display latency a player would see if it showed the part the moment it had it (a real player adds
 * its own buffer). Counts and latencies are kept per interval and sent whenever the parent asks
 * (`sample`), so the soak can report them per minute. A failed request is counted and the viewer
 * goes on (it joins again after a failed playlist request), as a player retries.
 */
import { sleep } from "./clock.ts";
import { KeepAliveClient } from "./http-client.ts";
import { serveLoad } from "./child-main.ts";
import { attemptWithin, playlistBody, PLAYER_REQUEST_HEADERS, preloadHint, type Attempt } from "./llhls-requests.ts";
import type { FromViewers, ViewerTally, ViewersStart, ToViewers } from "./soak-protocol.ts";

const PDT_TAG = "#EXT-X-PROGRAM-DATE-TIME:";
const PART_DURATION = /#EXT-X-PART:DURATION=([0-9.]+)/g;


/**
 * PROGRAM-DATE-TIME (ms since the epoch) of the first frame of the part whose EXT-X-PART line names
 * `uri`: the PDT of its segment plus the durations of the parts listed before it in that segment.
 */
export const partPdt = (playlist: string, uri: string): number => {
  const at = playlist.indexOf(`URI="${uri}"`);
  if (at < 0) return Number.NaN;
  const lineStart = playlist.lastIndexOf("\n", at) + 1;
  const tag = playlist.lastIndexOf(PDT_TAG, lineStart);
  if (tag < 0) return Number.NaN;
  const eol = playlist.indexOf("\n", tag);
  const pdt = Date.parse(playlist.slice(tag + PDT_TAG.length, eol < 0 ? undefined : eol).trim());
  let before = 0;
  PART_DURATION.lastIndex = 0;
  for (const m of playlist.slice(tag, lineStart).matchAll(PART_DURATION)) before += Number(m[1]);
  return pdt + before * 1000;
};


const send = (msg: FromViewers, then?: () => void) => process.send!(msg, undefined, undefined, then);

const freshTally = (): ViewerTally & { hist: Map<number, number> } => ({
  sent: { plain: 0, blocking: 0, part: 0 },
  errors: {},
  parts: 0,
  bytes: 0,
  partNotListed: 0,
  partSkipped: 0,
  noPdt: 0,
  latency: [],
  hist: new Map(),
});

const run = async (cfg: ViewersStart, stopped: Promise<void>) => {
  let running = true;
  let joined = 0;
  let tallies = cfg.targets.map(freshTally);
  const bump = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);

  process.on("message", (msg: ToViewers) => {
    if (msg.type !== "sample") return;
    const out = tallies;
    tallies = cfg.targets.map(freshTally);
    send({
      type: "report",
      joined,
      targets: cfg.targets.map((t) => t.label),
      tallies: out.map(({ hist, ...t }) => ({ ...t, latency: [...hist.entries()] })),
    });
  });

  const attempt = attemptWithin;

  const viewer = async (ti: number) => {
    const t = cfg.targets[ti]!;
    const url = new URL(t.baseUrl);
    const dir = `${t.streamPath}/${cfg.rendition}`;
    const playlist = `${dir}/index.m3u8`;
    const pl = new KeepAliveClient(url.hostname, Number(url.port), PLAYER_REQUEST_HEADERS);
    const media = new KeepAliveClient(url.hostname, Number(url.port), PLAYER_REQUEST_HEADERS);
    let partInFlight = false;
    const failed = (kind: string, res: Attempt) => bump(tallies[ti]!.errors, `${kind} ${"error" in res ? res.error : res.status}`);

    const fetchPart = async (uri: string, pdtMs: number) => {
      partInFlight = true;
      tallies[ti]!.sent.part++;
      const res = await attempt(media, `${dir}/${uri}`, cfg.partTimeoutMs);
      const now = Date.now();
      partInFlight = false;
      const st = tallies[ti]!;
      if (res.status === 200 && "body" in res) {
        st.parts++;
        st.bytes += res.body.length;
        if (Number.isFinite(pdtMs)) {
          const b = Math.max(0, Math.round(now - pdtMs));
          st.hist.set(b, (st.hist.get(b) ?? 0) + 1);
        } else st.noPdt++;
      } else failed("part", res);
    };

    const join = async (): Promise<{ msn: number; part: number } | null> => {
      while (running) {
        tallies[ti]!.sent.plain++;
        const res = await attempt(pl, playlist, cfg.playlistTimeoutMs);
        const body = playlistBody(res);
        const hint = body ? preloadHint(body) : null;
        if (hint) return hint;
        failed("plain", res);
        await sleep(500 + Math.random() * 500);
      }
      return null;
    };

    await sleep(Math.random() * cfg.rampMs);
    let next = running ? await join() : null;
    if (next) joined++;
    let lastPart: Promise<void> = Promise.resolve();
    while (running && next) {
      const want = next;
      tallies[ti]!.sent.blocking++;
      const res = await attempt(pl, `${playlist}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`, cfg.playlistTimeoutMs);
      const body = playlistBody(res);
      const hint = body ? preloadHint(body) : null;
      if (body) {
        const uri = `part${want.msn}.${want.part}.m4s`;
        const text = body.toString("latin1");
        if (text.includes(`"${uri}"`)) {
          if (partInFlight) tallies[ti]!.partSkipped++;
          else lastPart = fetchPart(uri, partPdt(text, uri));
        } else tallies[ti]!.partNotListed++;
      }
      if (hint) {
        next = hint;
      } else {
        if (!running) break;
        failed("blocking", res);
        await sleep(500 + Math.random() * 500);
        next = await join();
      }
    }
    await lastPart;
    pl.close();
    media.close();
  };

  const viewers = cfg.targets.flatMap((t, ti) => Array.from({ length: t.clients }, () => viewer(ti)));
  send({ type: "ready" });
  await stopped;
  running = false;
  await Promise.race([Promise.all(viewers), sleep(cfg.playlistTimeoutMs + 1000)]);
  process.exit(0);
};

serveLoad<ViewersStart>(run, send);
