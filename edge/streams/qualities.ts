import { parseMultivariantPlaylist } from "../../shared/hls/parse.ts";
import { deliver, type DeliveryDeps } from "../hls/deliver.ts";
import { resolveEdgeObject } from "../hls/edge-object.ts";

export interface Quality {
  name: string;
  bandwidth: number;
  resolution: string | null;
  fps: number | null;
  codecs: string | null;
}

/** The video renditions a multivariant playlist offers, highest bandwidth first. */
export const qualitiesOf = (master: string): Quality[] => {
  const out: Quality[] = [];
  for (const v of parseMultivariantPlaylist(master).variants) {
    const name = /^([a-z0-9][a-z0-9_-]{0,31})\/index\.m3u8$/.exec(v.uri)?.[1];
    const bandwidth = Number(v.attributes.BANDWIDTH);
    if (!name || !Number.isFinite(bandwidth)) continue;
    const fps = Number(v.attributes["FRAME-RATE"]);
    out.push({ name, bandwidth, resolution: v.attributes.RESOLUTION ?? null, fps: Number.isFinite(fps) && fps > 0 ? fps : null, codecs: v.attributes.CODECS ?? null });
  }
  return out.sort((a, b) => b.bandwidth - a.bandwidth);
};

/** How long a playback request waits for the master playlist before answering without qualities. */
export const QUALITIES_TIMEOUT_MS = 2000;

/**
 * The qualities of a live stream, read from its master playlist through this edge's cache and
 * coalescer (so playback lookups add no origin load beyond one fill per 0.5 × TD). [] when the
 * playlist is not there (yet) or does not come in time.
 */
export const liveQualities = async (streamId: string, deps: DeliveryDeps): Promise<Quality[]> => {
  const resolved = resolveEdgeObject(streamId, "master.m3u8", new URLSearchParams());
  if (!resolved.ok) return [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), QUALITIES_TIMEOUT_MS)));
  const delivery = await Promise.race([deliver(resolved.object, deps), timeout]).finally(() => timer !== undefined && clearTimeout(timer));
  if (!delivery || delivery.kind !== "object" || delivery.fetched.status !== 200) return [];
  try {
    return qualitiesOf(new TextDecoder().decode(delivery.fetched.body));
  } catch {
    return [];
  }
};
