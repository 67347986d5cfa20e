import { Hono } from "hono";
import type { Logger } from "pino";
import { isRenditionName, isStreamId, parseUint } from "../../shared/ids.ts";
import { validateInitSegment, validateMediaFragment } from "../../shared/mp4/index.ts";
import { PUSH_HEADERS as H, PUSH_LIMITS, PUSH_PREFIX, validateManifest, type StreamManifest } from "../../shared/push-protocol.ts";
import { THUMBNAIL_FILE, jpegProblem } from "../../shared/thumbnail.ts";
import type { Archiver } from "../archive/archiver.ts";
import { jsonError } from "../http/responses.ts";
import { readLimitedBody } from "../../shared/http/read-body.ts";
import type { OriginMetrics } from "../metrics.ts";
import type { ApplyResult, RenditionState } from "../store/rendition-state.ts";
import type { StreamRegistry } from "../store/stream-registry.ts";
import type { ThumbnailStore } from "../store/thumbnail-store.ts";
import { nodeAuth } from "./node-auth.ts";

const num = (v: string | undefined): number | null => {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) return null;
  return Number(v);
};

/** The transcoder-facing push API (see shared/push-protocol.ts). */
export const pushRoutes = (registry: StreamRegistry, metrics: OriginMetrics, nodeSecret: string, log: Logger, thumbnails: ThumbnailStore, archiver?: Archiver) => {
  const app = new Hono<{ Variables: { nodeId: string } }>();
  app.use(`${PUSH_PREFIX}/*`, nodeAuth(nodeSecret));

  const reject = (status: 400 | 401 | 404 | 409 | 413, error: string, extra: Record<string, unknown> = {}) => {
    metrics.pushRejected.inc({ status: String(status) });
    return jsonError(status, error, extra);
  };
  const applied = (r: ApplyResult) =>
    r.ok
      ? Response.json({ ok: true, duplicate: r.duplicate })
      : reject(r.status, r.error, r.status === 409 ? { resync: true } : r.nextMsn !== undefined ? { next_msn: r.nextMsn } : {});
  /**
   * A recorded stream's init or segment is journaled for the archive before the push is
   * acknowledged (a retry of an applied push journals what is still missing); if that fails the
   * node gets a 503 and retries.
   */
  const archived = async (r: ApplyResult, journal: (a: Archiver) => Promise<void>): Promise<Response> => {
    if (r.ok && archiver) {
      try {
        await journal(archiver);
      } catch {
        metrics.pushRejected.inc({ status: "503" });
        return jsonError(503, "could not journal the archive upload; retry");
      }
    }
    return applied(r);
  };

  /** Resolves the stream and rendition of a push, or the error response that explains why not. */
  const target = (id: string, name: string | null): { state?: RenditionState; error?: Response } => {
    if (!isStreamId(id)) return { error: reject(400, "invalid stream id") };
    if (name !== null && !isRenditionName(name)) return { error: reject(400, "invalid rendition name") };
    const stream = registry.get(id);
    // 409 tells the node to resend its manifest and init (origin restarted or failed over to).
    if (!stream || stream.ended) return { error: reject(409, "unknown stream: push the manifest first", { resync: true }) };
    if (name === null) return {};
    const state = stream.renditions.get(name);
    if (!state) return { error: reject(400, `rendition ${name} is not in the stream manifest`) };
    return { state };
  };

  app.put(`${PUSH_PREFIX}/:id`, async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) return reject(400, "invalid stream id");
    const body = await readLimitedBody(c.req.raw, PUSH_LIMITS.manifestBytes);
    if (!body.ok) return reject(413, `body exceeds ${body.limit} bytes`);
    let manifest: unknown;
    try {
      manifest = JSON.parse(new TextDecoder().decode(body.bytes));
    } catch {
      return reject(400, "manifest is not valid JSON");
    }
    const problems = validateManifest(manifest);
    if (problems.length > 0) return reject(400, "invalid manifest", { problems });
    const result = registry.applyManifest(id, manifest as StreamManifest);
    if (!result.ok) return reject(result.status, result.error);
    const journaled = await archived({ ok: true, duplicate: false }, (a) => a.onManifest(id));
    if (!journaled.ok) return journaled;
    metrics.streams.set(registry.list().filter((s) => !s.ended).length);
    if (result.created) log.info({ event: "stream_announced", stream: id, node: c.get("nodeId") }, "stream announced");
    // next_msn / next_init_version: a node (re)starting this stream continues the playlists and
    // numbers its init segments from there, so nothing it sends collides with an earlier run's.
    return c.json({ ok: true, created: result.created, next_msn: result.nextMsn, next_init_version: result.nextInitVersion }, result.created ? 201 : 200);
  });

  app.put(`${PUSH_PREFIX}/:id/renditions/:r/init/:version`, async (c) => {
    const { state, error } = target(c.req.param("id"), c.req.param("r"));
    if (error) return error;
    const version = parseUint(c.req.param("version"));
    if (version === null || version > 1_000_000) return reject(400, "invalid init version");
    const body = await readLimitedBody(c.req.raw, PUSH_LIMITS.initBytes);
    if (!body.ok) return reject(413, `body exceeds ${body.limit} bytes`);
    const problem = validateInitSegment(body.bytes);
    if (problem) return reject(400, `not an fMP4 init segment: ${problem}`);
    return archived(state!.putInit(version, body.bytes), (a) => a.onInit(c.req.param("id"), state!.name, version));
  });

  app.put(`${PUSH_PREFIX}/:id/renditions/:r/parts/:msn/:part`, async (c) => {
    const { state, error } = target(c.req.param("id"), c.req.param("r"));
    if (error) return error;
    const msn = parseUint(c.req.param("msn"));
    const part = parseUint(c.req.param("part"));
    const seq = parseUint(c.req.header(H.seq));
    const duration = num(c.req.header(H.partDuration));
    if (msn === null || part === null) return reject(400, "invalid msn or part index");
    if (seq === null || seq < 1) return reject(400, `${H.seq} must be a positive integer`);
    if (duration === null) return reject(400, `${H.partDuration} must be a number of seconds`);
    const pdtHeader = c.req.header(H.programDateTime);
    const pdt = pdtHeader === undefined ? null : Date.parse(pdtHeader);
    if (pdt !== null && !Number.isFinite(pdt)) return reject(400, `${H.programDateTime} must be an ISO date`);
    const initVersionHeader = c.req.header(H.initVersion);
    const initVersion = initVersionHeader === undefined ? null : parseUint(initVersionHeader);
    if (initVersionHeader !== undefined && initVersion === null) return reject(400, `${H.initVersion} must be an integer`);
    const producedAt = num(c.req.header(H.producedAt));
    const body = await readLimitedBody(c.req.raw, PUSH_LIMITS.partBytes);
    if (!body.ok) return reject(413, `body exceeds ${body.limit} bytes`);
    const problem = validateMediaFragment(body.bytes);
    if (problem) return reject(400, `not an fMP4 part: ${problem}`);
    const result = state!.addPart({
      seq,
      msn,
      part,
      duration,
      independent: c.req.header(H.independent) === "1",
      resync: c.req.header(H.resync) === "1",
      programDateTimeMs: pdt,
      discontinuity: c.req.header(H.discontinuity) === "1",
      initVersion,
      producedAtMs: producedAt,
      bytes: body.bytes,
    });
    if (result.ok && !result.duplicate) {
      metrics.partsPushed.inc({ rendition_type: state!.type });
      metrics.pushBytes.inc({ rendition_type: state!.type }, body.bytes.byteLength);
      if (producedAt !== null) metrics.pushLatency.observe(Math.max(0, Date.now() - producedAt) / 1000);
    }
    return applied(result);
  });

  app.post(`${PUSH_PREFIX}/:id/renditions/:r/segments/:msn`, async (c) => {
    const { state, error } = target(c.req.param("id"), c.req.param("r"));
    if (error) return error;
    const msn = parseUint(c.req.param("msn"));
    const seq = parseUint(c.req.header(H.seq));
    const duration = num(c.req.header(H.segmentDuration));
    if (msn === null) return reject(400, "invalid msn");
    if (seq === null || seq < 1) return reject(400, `${H.seq} must be a positive integer`);
    if (duration === null) return reject(400, `${H.segmentDuration} must be a number of seconds`);
    const gap = c.req.header(H.gap) === "1";
    const pdt = Date.parse(c.req.header(H.programDateTime) ?? "");
    if (gap && !Number.isFinite(pdt)) return reject(400, `a gap segment needs ${H.programDateTime}`);
    return archived(
      state!.completeSegment({
        seq,
        msn,
        duration,
        ...(gap ? { gap: { programDateTimeMs: pdt } } : {}),
        peakBitrate: num(c.req.header(H.peakBitrate)),
        averageBitrate: num(c.req.header(H.averageBitrate)),
      }),
      (a) => a.onSegment(c.req.param("id"), state!.name, msn),
    );
  });

  app.post(`${PUSH_PREFIX}/:id/renditions/:r/end`, (c) => {
    const { state, error } = target(c.req.param("id"), c.req.param("r"));
    if (error) return error;
    const ended = state!.end();
    if (ended) log.info({ event: "rendition_ended", stream: c.req.param("id"), rendition: state!.name }, "rendition ended");
    return c.json({ ok: true, duplicate: !ended });
  });

  // The latest thumbnail (JPEG): no sequence number, latest wins. The stream must be known (live or
  // ended: a last image may arrive after the end); the image outlives it as the recording's poster.
  app.put(`${PUSH_PREFIX}/:id/${THUMBNAIL_FILE}`, async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) return reject(400, "invalid stream id");
    if (!registry.get(id)) return reject(409, "unknown stream: push the manifest first", { resync: true });
    const body = await readLimitedBody(c.req.raw, PUSH_LIMITS.thumbnailBytes);
    if (!body.ok) return reject(413, `body exceeds ${body.limit} bytes`);
    const problem = jpegProblem(body.bytes);
    if (problem) return reject(400, `not a JPEG: ${problem}`);
    const changed = thumbnails.put(id, body.bytes);
    if (changed) metrics.thumbnailsPushed.inc();
    if (changed) archiver?.onThumbnail(id);
    return c.json({ ok: true, duplicate: !changed });
  });

  app.post(`${PUSH_PREFIX}/:id/end`, async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) return reject(400, "invalid stream id");
    if (!registry.get(id)) return reject(404, "unknown stream");
    const ended = registry.end(id);
    metrics.streams.set(registry.list().filter((s) => !s.ended).length);
    // Segments the end closed, and the last poster, go to the archive before the end is acknowledged.
    const journaled = await archived({ ok: true, duplicate: !ended }, (a) => a.onEnd(id));
    if (!journaled.ok) return journaled;
    if (ended) log.info({ event: "stream_ended", stream: id }, "stream ended");
    return c.json({ ok: true, duplicate: !ended });
  });

  return app;
};
