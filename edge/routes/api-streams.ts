import { Hono } from "hono";
import { optionalUser, requireUser } from "../accounts/auth.ts";
import { requireDb } from "../db/database.ts";
import { decodeCursor, encodeCursor } from "../db/cursor.ts";
import { newStreamId } from "../db/ids.ts";
import { streamControl, streamControlLifecycle } from "../do/stream-control/client.ts";
import { conflict, forbidden, invalidFields, notFound, unavailable, type FieldErrors } from "../http/api-error.ts";
import { queryInteger } from "../http/fields.ts";
import { readJsonObject } from "../http/json-body.ts";
import { isStreamId, STREAM_ID_PATTERN } from "../../shared/ids.ts";
import { signPlaybackToken } from "../../shared/playback-token.ts";
import { getRecording } from "../recordings/recording-store.ts";
import { canManage, loadManagedStream, loadStream, loadVisibleStream } from "../streams/access.ts";
import { playbackKey } from "../streams/playback-keys.ts";
import { readPlaybackTokenInput, signedStreamUrls, signedVodUrl } from "../streams/playback-input.ts";
import { requireViewAccess } from "../streams/view-access.ts";
import { forgetStreamVisibility } from "../streams/visibility.ts";
import { d1StreamLifecycle, type LifecycleFactory } from "../streams/lifecycle.ts";
import { ACTIVE_STATUSES, DEFAULT_DVR_WINDOW, ownerStreamView, publicStreamView, streamUrls } from "../streams/model.ts";
import { liveQualities } from "../streams/qualities.ts";
import { eventView, listEvents } from "../streams/stream-events.ts";
import { readStreamInput } from "../streams/stream-input.ts";
import { newStreamKey } from "../streams/stream-keys.ts";
import { getStream, insertStream, replaceKeyHash, updateStream } from "../streams/stream-store.ts";
import type { HeartbeatAggregator } from "../viewers/aggregator.ts";
import { streamViewers } from "../viewers/stream-viewers.ts";
import type { DeliveryDepsOf } from "../hls/deliver.ts";
import { edgeConfig } from "../config.ts";

export interface StreamRoutesOptions {
  deps: DeliveryDepsOf;
  /** Who stops a stream; D1 only until the go-live saga provides its StreamControl client. */
  lifecycle?: LifecycleFactory;
  /** The isolate's heartbeat aggregator: playback reads the viewer counts it learnt before asking the counter. */
  viewers?: HeartbeatAggregator;
}

const NO_STORE = { "cache-control": "no-store" };

/** One stream: create, read, update, rotate its key, stop it, its playback info and its events. */
export const streamRoutes = (o: StreamRoutesOptions) => {
  // The stream's StreamControl object when the Worker has the binding; D1 alone otherwise.
  const lifecycleFor = o.lifecycle ?? ((env: Env) => (env.STREAM_CONTROL ? streamControlLifecycle(env) : d1StreamLifecycle));
  const app = new Hono<{ Bindings: Env }>();

  app.post("/api/v1/streams", async (c) => {
    const user = await requireUser(c);
    if (user.role === "viewer") throw forbidden("a viewer account cannot create streams");
    const db = requireDb(c.env);
    const input = await readStreamInput(db, await readJsonObject(c), "create");
    const id = newStreamId();
    const { key, hash } = await newStreamKey(id);
    await insertStream(db, {
      id,
      userId: user.sub,
      title: input.title!,
      description: input.description ?? "",
      category: input.category ?? null,
      tags: input.tags ?? [],
      latencyMode: input.latency_mode ?? "low",
      visibility: input.visibility ?? "public",
      enableRecording: input.enable_recording ?? false,
      dvrWindow: input.dvr_window ?? DEFAULT_DVR_WINDOW,
      retentionDays: input.recording_retention_days ?? 30,
      keyHash: hash,
    });
    const stream = (await getStream(db, id))!;
    return c.json(
      { stream_id: id, stream_key: key, ingest_urls: { rtmp: edgeConfig(c.env).ingestRtmpUrl }, playback_url: streamUrls(id).watch, status: stream.status, stream: ownerStreamView(stream, edgeConfig(c.env).ingestRtmpUrl) },
      201,
      { ...NO_STORE, location: `/api/v1/streams/${id}` },
    );
  });

  app.get("/api/v1/streams/:id", async (c) => {
    const user = await optionalUser(c);
    const stream = await loadStream(requireDb(c.env), c.req.param("id"));
    await requireViewAccess(c, stream, user);
    return c.json(canManage(user, stream) ? ownerStreamView(stream, edgeConfig(c.env).ingestRtmpUrl) : publicStreamView(stream));
  });

  app.patch("/api/v1/streams/:id", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadManagedStream(db, c.req.param("id"), user);
    const patch = await readStreamInput(db, await readJsonObject(c), "patch");
    if ((ACTIVE_STATUSES as readonly string[]).includes(stream.status)) {
      const locked: FieldErrors = {};
      for (const k of ["latency_mode", "dvr_window", "enable_recording"] as const) if (patch[k] !== undefined) locked[k] = `cannot change while the stream is ${stream.status}`;
      if (Object.keys(locked).length) throw conflict(`the stream is ${stream.status}: pipeline settings are fixed until it ends`, { fields: locked });
    }
    if (!(await updateStream(db, stream.id, patch))) throw notFound("stream");
    // This isolate's delivery routes see the change at once; others within FRESH_MS (streams/visibility.ts).
    if (patch.visibility !== undefined) forgetStreamVisibility(stream.id);
    return c.json(ownerStreamView((await getStream(db, stream.id))!, edgeConfig(c.env).ingestRtmpUrl));
  });

  app.post("/api/v1/streams/:id/key", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadManagedStream(db, c.req.param("id"), user);
    if (stream.status === "ended") throw conflict("the stream has ended; create a new one");
    const { key, hash } = await newStreamKey(stream.id);
    if (!(await replaceKeyHash(db, stream.id, hash))) throw conflict("the stream has ended; create a new one");
    const updated = (await getStream(db, stream.id))!;
    return c.json({ stream_id: stream.id, stream_key: key, ingest_urls: { rtmp: edgeConfig(c.env).ingestRtmpUrl }, key_rotated_at: updated.key_rotated_at }, 200, NO_STORE);
  });

  app.post("/api/v1/streams/:id/stop", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadManagedStream(db, c.req.param("id"), user);
    if (stream.status === "ended") throw conflict("the stream has already ended");
    const outcome = await lifecycleFor(c.env).stop(db, stream, { userId: user.sub, username: user.username });
    if (!outcome.ok) throw outcome.reason === "gone" ? notFound("stream") : conflict("the stream has already ended");
    return c.json({ stream_id: stream.id, status: "ended", ended_at: outcome.endedAt });
  });

  app.get("/api/v1/streams/:id/playback", async (c) => {
    const user = await optionalUser(c);
    const stream = await loadVisibleStream(requireDb(c.env), c.req.param("id"), user);
    const urls = streamUrls(stream.id);
    const onAir = stream.status === "live" || stream.status === "reconnecting";
    const viewers = await streamViewers(c.env, stream, o.viewers);
    return c.json({
      stream_id: stream.id,
      status: stream.status,
      visibility: stream.visibility,
      title: stream.title,
      user: { id: stream.user_id, username: stream.username },
      viewer_count: viewers.current,
      viewers,
      started_at: stream.started_at,
      // A private stream plays only through a signed URL: POST …/playback-token (owner or admin).
      playback_urls: { hls: stream.visibility === "private" ? null : urls.hls },
      watch_url: urls.watch,
      qualities: onAir ? await liveQualities(stream.id, o.deps(c)) : [],
      chat_url: urls.chat,
    });
  });

  // Signed playback URLs (private streams): the owner or an admin mints one for a viewer.
  // Someone else is told 404 for a private stream (as by GET) and 403 for one they may see.
  app.post("/api/v1/streams/:id/playback-token", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadVisibleStream(db, c.req.param("id"), user);
    if (!canManage(user, stream)) throw forbidden("only the stream's owner or an admin may mint playback URLs");
    const hasBody = c.req.header("content-length") !== "0" && c.req.raw.body !== null;
    const input = readPlaybackTokenInput(hasBody ? await readJsonObject(c) : {});
    const key = await playbackKey(c.env);
    if (!key.ok) throw unavailable(key.error);
    if (input.recordingId !== undefined) {
      const recording = await getRecording(db, input.recordingId);
      if (!recording || recording.stream_id !== stream.id) throw notFound("recording");
    }
    const expires = Math.floor(Date.now() / 1000) + input.ttlS;
    const token = await signPlaybackToken(key.key, { streamId: stream.id, expires, viewer: input.viewerId ?? null });
    return c.json(
      {
        stream_id: stream.id,
        token,
        url: input.recordingId !== undefined ? signedVodUrl(input.recordingId, token) : signedStreamUrls(stream.id, token).hls,
        watch_url: signedStreamUrls(stream.id, token).watch,
        expires_at: new Date(expires * 1000).toISOString(),
        ...(input.recordingId !== undefined ? { recording_id: input.recordingId } : {}),
      },
      200,
      NO_STORE,
    );
  });

  // What the delivery routes of a forwarding edge (CONTROL_PLANE_URL) need to gate a stream: its
  // visibility, null when the control plane does not know it. Says no more than a direct /hls
  // request does (403 for private).
  app.get("/api/v1/streams/:id/visibility", async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) throw invalidFields({ id: `must match ${STREAM_ID_PATTERN.source}` }, "invalid stream id");
    const row = await requireDb(c.env).prepare("SELECT visibility FROM streams WHERE id = ?1").bind(id).first<{ visibility: string }>();
    return c.json({ stream_id: id, visibility: row?.visibility ?? null });
  });

  // The go-live saga's progress for the owner (creator page, benchmarks): phase, step, each step's outcome and duration.
  app.get("/api/v1/streams/:id/saga", async (c) => {
    const user = await requireUser(c);
    const stream = await loadManagedStream(requireDb(c.env), c.req.param("id"), user);
    const state = await streamControl(c.env, stream.id)?.state();
    if (!state) return c.json({ stream_id: stream.id, status: stream.status, phase: null, step: null, completed: [], node_id: null, failure: null, history: [] });
    return c.json({
      stream_id: stream.id,
      status: stream.status,
      phase: state.phase,
      step: state.step,
      completed: state.completed,
      node_id: state.node?.id ?? null,
      failure: state.failure,
      runs: state.runs,
      history: state.history,
    });
  });

  app.get("/api/v1/streams/:id/events", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadManagedStream(db, c.req.param("id"), user);
    const errors: FieldErrors = {};
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 100, fallback: 50 }, errors);
    const cursorText = c.req.query("cursor");
    const cursor = cursorText ? decodeCursor(cursorText, "events", ["number"]) : null;
    if (cursorText && !cursor) errors.cursor = "invalid cursor";
    if (Object.keys(errors).length) throw invalidFields(errors);
    const rows = await listEvents(db, stream.id, limit + 1, cursor ? (cursor[0] as number) : null);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({ events: page.map(eventView), next_cursor: rows.length > limit && last ? encodeCursor("events", [last.id]) : null });
  });

  return app;
};
