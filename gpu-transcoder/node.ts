import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import pino, { type Logger } from "pino";
import type { StreamEvent } from "../shared/events.ts";
import { signNodeToken, verifyNodeToken } from "../shared/tokens.ts";
import { cpus, loadavg } from "node:os";
import { chooseAuthorizer } from "./auth/choose-authorizer.ts";
import { readControlBody } from "./control-body.ts";
import type { TranscoderConfig } from "./config.ts";
import { NodeHeartbeat } from "./control-plane/heartbeat.ts";
import { parseStreamOptions, type NodeStreamOptions } from "./control-plane/stream-options.ts";
import { NodeStats, StreamStatsTracker } from "./control-plane/node-stats.ts";
import { StreamReporter } from "./control-plane/stream-reports.ts";
import { probeFfmpeg, type FfmpegCapabilities } from "./ffmpeg/probe.ts";
import { createRtmpServer } from "./ingest/index.ts";
import type { PublishAuthorizer, PublishSession, RtmpServer } from "./ingest/types.ts";
import { createTranscoderMetrics } from "./metrics.ts";
import { StreamPipeline } from "./pipeline/stream-pipeline.ts";
import { PushClient } from "./push/push-client.ts";
import { countStreamEvent, EncodedSecondsCounter, partDeliverySeconds, refreshStreamGauges } from "./stream-metrics.ts";
import { jsonError } from "../shared/http/json-error.ts";

export interface TranscoderNodeOptions extends TranscoderConfig {
  logger?: Logger;
  authorizer?: PublishAuthorizer;
  caps?: FfmpegCapabilities;
}

/** A transcoder node: RTMP ingest, one ladder pipeline per stream, push to origins, control API. */
export const createTranscoderNode = async (config: TranscoderNodeOptions) => {
  const log = config.logger ?? pino({ name: "gpu-transcoder" });
  const metrics = createTranscoderMetrics();
  const caps = config.caps ?? (await probeFfmpeg());
  log.info(
    { event: "ffmpeg_probed", path: caps.path, source: caps.source, version: caps.version, encoder: caps.h264Encoder, reasons: caps.encoderReasons, cmaf: caps.movflags.has("cmaf"), statsPeriod: caps.statsPeriod, scaleDivisibleBy: caps.scaleDivisibleBy ?? false },
    "ffmpeg probed",
  );
  const token = await signNodeToken(config.nodeSecret, config.nodeId);
  const authorizer = config.authorizer ?? chooseAuthorizer(config, token);
  const pipelines = new Map<string, StreamPipeline>();
  /** Each pipeline's push client, for the queue gauges read at scrape time. */
  const pushClients = new WeakMap<StreamPipeline, PushClient>();
  const encodedSeconds = new EncodedSecondsCounter();
  metrics.slots.set(config.slots ?? 4);
  metrics.encoderInfo.set({ encoder: caps.h264Encoder }, 1);
  const events: StreamEvent[] = [];
  // With a control plane: pipeline events go to it (the go-live saga acts on them).
  const reporter = config.controlPlaneUrl ? new StreamReporter({ baseUrl: config.controlPlaneUrl, nodeToken: token, logger: log }) : null;
  /**
   * Streams the control plane's go-live saga told this node to expect (configure_encoders), by id:
   * when, and the stream's DVR window and recording, which go into the manifest the origin gets.
   */
  const expected = new Map<string, { at: number; options: NodeStreamOptions }>();

  // Per-stream ingest bitrate, dropped frames, speed and errors: the /metrics gauges and the control plane's analytics.
  const statsTracker = new StreamStatsTracker();
  const stats = new NodeStats({
    tracker: statsTracker,
    pipelines: () => pipelines,
    reportable: (id) => expected.has(id),
    metrics,
    logger: log,
    controlPlane: config.controlPlaneUrl ? { baseUrl: config.controlPlaneUrl, nodeToken: token } : null,
  });

  const onEvent = (e: StreamEvent) => {
    reporter?.report(e);
    statsTracker.event(e);
    events.push(e);
    if (events.length > 500) events.splice(0, events.length - 500);
    metrics.events.inc({ type: e.type });
    countStreamEvent(metrics, e);
    log.info({ event: "stream_event", type: e.type, stream: e.streamId, severity: e.severity, data: e.data }, e.type);
  };

  const updateGauges = () => {
    for (const state of ["starting", "live", "reconnecting"]) metrics.streams.set({ state }, [...pipelines.values()].filter((p) => p.state === state).length);
  };

  const onPublish = (session: PublishSession) => {
    let pipeline = pipelines.get(session.streamId);
    if (!pipeline || pipeline.finished) {
      const push = new PushClient({
        streamId: session.streamId,
        origins: config.origins,
        token,
        logger: log,
        onFailover: () => metrics.failovers.inc(),
        onPushed: (item, ms) => {
          metrics.pushLatency.observe({ kind: item.kind }, ms / 1000);
          const delivery = partDeliverySeconds(item, Date.now());
          if (delivery !== null) metrics.partDelivery.observe(delivery);
        },
        onNextMsn: (msn) => created.continueAt(msn),
        onThumbnail: (outcome, ms) => {
          metrics.thumbnails.inc({ outcome });
          if (outcome === "ok") metrics.pushLatency.observe({ kind: "thumbnail" }, ms / 1000);
        },
      });
      const created: StreamPipeline = new StreamPipeline({
        streamId: session.streamId,
        caps,
        ladder: config.ladder,
        partTarget: config.partTarget,
        segmentDuration: config.segmentDuration,
        push,
        log,
        graceMs: config.graceMs,
        realtime: { minSpeed: config.minSpeed, slowPeriodMs: config.slowPeriodMs },
        onEvent,
        onEnded: () => {
          if (pipelines.get(session.streamId) === created) pipelines.delete(session.streamId);
          // The next broadcast of this stream gets its own options (and recording) from its own saga run.
          if ((expected.get(session.streamId)?.at ?? Infinity) <= Date.now()) expected.delete(session.streamId);
          metrics.speed.remove({ stream: session.streamId });
          updateGauges();
        },
        onPartProduced: () => metrics.parts.inc(),
        ...(config.thumbnailInterval !== undefined ? { thumbnailInterval: config.thumbnailInterval } : {}),
        streamOptions: expected.get(session.streamId)?.options ?? null,
      });
      pipeline = created;
      pipelines.set(session.streamId, pipeline);
      pushClients.set(created, push);
    }
    statsTracker.attach(session);
    pipeline.attach(session);
    metrics.publishers.inc();
    session.once("close", () => metrics.publishers.dec());
    updateGauges();
  };

  const rtmp: RtmpServer = createRtmpServer({
    host: config.rtmpHost,
    port: config.rtmpPort,
    authorize: {
      authorize: async (req) => {
        const result = await authorizer.authorize(req);
        if (!result.ok) metrics.publishRefused.inc();
        return result;
      },
    },
    logger: log,
    onPublish,
    ...(config.ingestTimeoutMs !== undefined ? { mediaTimeoutMs: config.ingestTimeoutMs } : {}),
  });

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok", node: config.nodeId, encoder: caps.h264Encoder, streams: pipelines.size }));
  app.get("/metrics", async () => {
    refreshStreamGauges(
      metrics,
      [...pipelines].map(([id, p]) => {
        const push = pushClients.get(p);
        return {
          key: p,
          id,
          state: p.state,
          speed: p.speed,
          encodedSeconds: p.encodedSeconds,
          renditions: p.activeRenditions.length,
          queueDepth: push?.pendingCount() ?? 0,
          oldestPendingAtMs: push?.oldestPendingPartAt() ?? null,
        };
      }),
      Date.now(),
      encodedSeconds,
    );
    return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
  });
  app.get("/streams", (c) =>
    c.json(
      [...pipelines.entries()].map(([id, p]) => ({
        id,
        state: p.state,
        renditions: p.activeRenditions,
        speed: Number(p.speed.toFixed(3)),
        startedAt: new Date(p.startedAt).toISOString(),
        expectedByControlPlane: expected.has(id),
      })),
    ),
  );
  app.get("/events", (c) => {
    const stream = c.req.query("stream");
    if (stream !== undefined && !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(stream)) return jsonError(400, "invalid stream id");
    return c.json(stream ? events.filter((e) => e.streamId === stream) : events);
  });
  app.get("/capabilities", (c) =>
    c.json({ ffmpeg: caps.version, source: caps.source, encoder: caps.h264Encoder, reasons: caps.encoderReasons, cmaf: caps.movflags.has("cmaf") }),
  );
  // The control plane's saga (node token for this node): configure_encoders and its compensation / the stop.
  app.post("/control/streams/:id/:action{expect|stop}", async (c) => {
    const auth = c.req.header("authorization") ?? "";
    const presented = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    if ((await verifyNodeToken(config.nodeSecret, presented)) !== config.nodeId) return jsonError(401, "a node token for this node is required");
    const id = c.req.param("id");
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)) return jsonError(400, "invalid stream id");
    const pipeline = pipelines.get(id);
    // Bounded before anything changes: an oversize or malformed body is refused with no state touched.
    const read = await readControlBody(c.req.raw);
    if (!read.ok) return jsonError(read.status, read.error);
    if (c.req.param("action") === "expect") {
      const parsed = parseStreamOptions(read.value);
      if (!parsed.ok) return jsonError(400, "invalid stream options", { problems: parsed.problems });
      expected.delete(id);
      expected.set(id, { at: Date.now(), options: parsed.options });
      if (expected.size > 1000) expected.delete(expected.keys().next().value!);
      const running = !!pipeline && !pipeline.finished;
      if (running) pipeline.setStreamOptions(parsed.options);
      log.info({ event: "stream_expected", stream: id, dvrWindowS: parsed.options.dvrWindowS, recording: parsed.options.recording, running }, "stream configured by the control plane");
      return c.json({ stream: id, expected: true, running });
    }
    expected.delete(id);
    const body = (read.value ?? {}) as { reason?: unknown };
    const reason = typeof body.reason === "string" ? body.reason.slice(0, 200) : "stopped by the control plane";
    const running = !!pipeline && !pipeline.finished;
    if (pipeline) await pipeline.end(reason);
    log.info({ event: "stream_stopped_by_control_plane", stream: id, reason, running }, "stream stopped by the control plane");
    return c.json({ stream: id, stopped: running });
  });
  app.notFound(() => jsonError(404, "not found"));

  let http: ServerType | null = null;
  let heartbeat: NodeHeartbeat | null = null;
  return {
    caps,
    log,
    pipelines,
    events,
    async listen(): Promise<{ rtmpPort: number; controlPort: number }> {
      const { port: rtmpPort } = await rtmp.listen();
      const controlPort = await new Promise<number>((resolve, reject) => {
        http = serve({ fetch: app.fetch, hostname: config.controlHost, port: config.controlPort }, (info) => resolve(info.port));
        http.once("error", reject);
      });
      log.info({ event: "listening", rtmpPort, controlPort, origins: config.origins, controlPlane: config.controlPlaneUrl ?? null }, "gpu-transcoder listening");
      if (config.controlPlaneUrl) {
        const host = (h: string) => (h === "0.0.0.0" || h === "::" ? "127.0.0.1" : h);
        heartbeat = new NodeHeartbeat({
          baseUrl: config.controlPlaneUrl,
          nodeToken: token,
          logger: log,
          describe: () => ({ control_url: `http://${host(config.controlHost)}:${controlPort}`, rtmp_url: `rtmp://${host(config.rtmpHost)}:${rtmpPort}/live`, version: "cascade-0.1" }),
          capacity: () => {
            const running = [...pipelines.values()].filter((p) => !p.finished);
            const speeds = running.map((p) => p.speed).filter((v) => v > 0);
            return {
              slots: config.slots ?? 4,
              slots_used: running.length,
              encoder: caps.h264Encoder,
              load: Number((loadavg()[0]! / Math.max(1, cpus().length)).toFixed(3)),
              speed: speeds.length ? Number(Math.min(...speeds).toFixed(3)) : 1,
            };
          },
        });
        heartbeat.start();
      }
      stats.start();
      return { rtmpPort, controlPort };
    },
    async close(): Promise<void> {
      heartbeat?.stop();
      stats.stop();
      await Promise.all([...pipelines.values()].map((p) => p.end("node shutting down")));
      await reporter?.flush();
      await rtmp.close();
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    },
  };
};

export type TranscoderNode = Awaited<ReturnType<typeof createTranscoderNode>>;
