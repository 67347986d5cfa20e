/**
 * A stand-in for core-origin inside workerd (the real origin is a Node process; the end-to-end
 * tests use it). It keeps the LL-HLS semantics the edge depends on: a blocking playlist request
 * waits until its part exists, a hinted part's GET waits until published, and every request is
 * counted by URL so tests can assert how many reached the origin.
 */
export class FakeOrigin {
  readonly requests = new Map<string, number>();
  /** Published parts as "msn.part". */
  private readonly parts = new Set<string>();
  private waiters: Array<() => void> = [];
  private lastPart: { msn: number; part: number } = { msn: 0, part: -1 };
  /** When set, every request waits this long before it is answered. */
  delayMs = 0;
  /** Status to answer for every playlist (e.g. 404 before go-live). */
  playlistStatus = 200;

  constructor(
    readonly streamId: string,
    readonly targetDuration = 2,
    readonly partsPerSegment = 4,
  ) {}

  count(path: string): number {
    return this.requests.get(path) ?? 0;
  }

  total(): number {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }

  publish(msn: number, part: number): void {
    this.parts.add(`${msn}.${part}`);
    this.lastPart = { msn, part };
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  private async until(ready: () => boolean, signal: AbortSignal | null): Promise<boolean> {
    while (!ready()) {
      if (signal?.aborted) return false;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    return true;
  }

  playlist(): string {
    const lines = ["#EXTM3U", `#EXT-X-TARGETDURATION:${this.targetDuration}`, "#EXT-X-VERSION:9", "#EXT-X-PART-INF:PART-TARGET=0.5", "#EXT-X-MEDIA-SEQUENCE:0", '#EXT-X-MAP:URI="init0.mp4"'];
    for (let msn = 0; msn <= this.lastPart.msn; msn++) {
      for (let p = 0; p < this.partsPerSegment; p++) if (this.parts.has(`${msn}.${p}`)) lines.push(`#EXT-X-PART:DURATION=0.5,URI="part${msn}.${p}.m4s"`);
      if (msn < this.lastPart.msn) lines.push("#EXTINF:2.0,", `seg${msn}.m4s`);
    }
    const next = this.lastPart.part + 1 >= this.partsPerSegment ? { msn: this.lastPart.msn + 1, part: 0 } : { msn: this.lastPart.msn, part: this.lastPart.part + 1 };
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part${next.msn}.${next.part}.m4s"`);
    return lines.join("\n") + "\n";
  }

  master(): string {
    return [
      "#EXTM3U",
      "#EXT-X-INDEPENDENT-SEGMENTS",
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,AUDIO="aud"',
      "360p/index.m3u8",
      "",
    ].join("\n");
  }

  readonly fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const key = url.pathname + url.search;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const prefix = `/live/${this.streamId}/`;
    if (!url.pathname.startsWith(prefix)) return Response.json({ error: "stream not found" }, { status: 404 });
    const rest = url.pathname.slice(prefix.length);
    const playlistHeaders = { "content-type": "application/vnd.apple.mpegurl", "last-modified": new Date(0).toUTCString() };
    if (rest === "master.m3u8") {
      if (this.playlistStatus !== 200) return Response.json({ error: "stream not found" }, { status: this.playlistStatus });
      return new Response(this.master(), { headers: playlistHeaders });
    }
    if (/^[a-z0-9]+\/index\.m3u8$/.test(rest)) {
      if (this.playlistStatus !== 200) return Response.json({ error: "stream not found" }, { status: this.playlistStatus });
      const msn = url.searchParams.get("_HLS_msn");
      const part = url.searchParams.get("_HLS_part");
      if (msn !== null && Number(msn) > this.lastPart.msn + 2) return Response.json({ error: "too far ahead" }, { status: 400 });
      if (msn !== null) {
        const m = Number(msn);
        const p = part === null ? this.partsPerSegment - 1 : Number(part);
        await this.until(() => this.lastPart.msn > m || (this.lastPart.msn === m && this.lastPart.part >= p), req.signal);
      }
      return new Response(this.playlist(), { headers: playlistHeaders });
    }
    const init = /^[a-z0-9]+\/init(\d+)\.mp4$/.exec(rest);
    if (init) return new Response(new Uint8Array([0, 0, 0, 8, 0x66, 0x74, 0x79, 0x70]), { headers: { "content-type": "video/mp4" } });
    const part = /^[a-z0-9]+\/part(\d+)\.(\d+)\.m4s$/.exec(rest);
    if (part) {
      const id = `${part[1]}.${part[2]}`;
      const next = this.lastPart.part + 1 >= this.partsPerSegment ? `${this.lastPart.msn + 1}.0` : `${this.lastPart.msn}.${this.lastPart.part + 1}`;
      if (!this.parts.has(id) && id !== next) return Response.json({ error: "part not found" }, { status: 404 });
      await this.until(() => this.parts.has(id), req.signal);
      return new Response(partBytes(Number(part[1]), Number(part[2])), { headers: { "content-type": "video/iso.segment" } });
    }
    return Response.json({ error: "no such resource" }, { status: 404 });
  };
}

/** Deterministic bytes per part so tests can check every waiter got the same, whole part. */
export const partBytes = (msn: number, part: number): Uint8Array => {
  const out = new Uint8Array(64 * 1024);
  for (let i = 0; i < out.length; i++) out[i] = (msn * 31 + part * 7 + i) & 0xff;
  return out;
};
