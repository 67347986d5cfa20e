/**
 * One publisher's TCP connection: handshake, chunk framing, command handling and the publish
 * lifecycle. The rule that shapes it: nothing that tells the publisher it is live
 * (`NetStream.Publish.Start`) goes out until the async authoriser has said yes, and a refusal is
 * written and flushed before the socket closes so OBS/ffmpeg can show the reason.
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { isStreamId } from "../../shared/ids.ts";
import { Amf0Error, decodeAmf0, isAmf0Object } from "./amf0.ts";
import { ChunkParser, ChunkParserError, type RtmpMessage } from "./chunk-parser.ts";
import {
  ChunkWriter,
  MSG,
  PEER_BANDWIDTH_LIMIT,
  pingResponseMessage,
  setPeerBandwidthMessage,
  streamBeginMessage,
  USER_CONTROL,
  windowAckSizeMessage,
  type OutgoingMessage,
} from "./chunk-writer.ts";
import { CommandError, errorMessage, onStatusMessage, parseCommand, resultMessage, type RtmpCommand, type StatusInfo } from "./commands.ts";
import { FLV_TAG_SCRIPT, parseOnMetaData, splitAggregate } from "./flv.ts";
import { HandshakeError, ServerHandshake } from "./handshake.ts";
import { RtmpPublishSession } from "./publish-session.ts";
import type { AuthResult, FlvTag, IngestLogger, PublishAuthorizer, PublishSession } from "./types.ts";

const WINDOW_ACK_SIZE = 2_500_000;
const PEER_BANDWIDTH = 2_500_000;
const OUT_CHUNK_SIZE = 4096;
/** The stream id `createStream` hands out; publishers only ever create one. */
const PUBLISH_STREAM_ID = 1;
/** Before a publish is authorised only small commands are legitimate, so cap what we will buffer. */
const PRE_AUTH_MESSAGE_LIMIT = 1024 * 1024;
/** After we half-close, a peer that keeps its end open gets this long before we drop it. */
const CLOSE_GRACE_MS = 2_000;
const MAX_KEY_LENGTH = 512;

/** What a connection needs from the server that owns it. */
export interface ConnectionContext {
  apps: ReadonlySet<string>;
  authorizer: PublishAuthorizer;
  logger: IngestLogger;
  idleTimeoutMs: number;
  mediaTimeoutMs: number;
  authorizeTimeoutMs: number;
  /** Registers a live publish; false when its streamId is already publishing. */
  claim(session: RtmpPublishSession): boolean;
  release(session: RtmpPublishSession): void;
  onPublish(session: PublishSession): void;
  onClosed(connection: RtmpConnection): void;
}

type PublishState =
  | { kind: "none" }
  | { kind: "authorizing" }
  | { kind: "live"; session: RtmpPublishSession; messageStreamId: number }
  | { kind: "done" };

/** "::ffff:1.2.3.4" is how Node reports IPv4 on a dual-stack socket; authorisers want "1.2.3.4". */
const normaliseAddress = (address: string | undefined): string =>
  address === undefined ? "unknown" : address.startsWith("::ffff:") ? address.slice(7) : address;

/** `live`, `live/` and `live?token=…` all name the same application. */
const normaliseApp = (app: string): string => (app.split("?")[0] ?? "").replace(/^\/+|\/+$/g, "");

/**
 * Authoriser reasons are free text from another service; make sure the key they were asked
 * about cannot reach our logs through them.
 */
const redact = (text: string, key: string): string => (key.length >= 4 ? text.split(key).join("[redacted]") : text);

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class RtmpConnection {
  readonly id = randomUUID();
  readonly remoteAddress: string;

  private readonly handshake = new ServerHandshake();
  private readonly parser = new ChunkParser();
  private readonly writer = new ChunkWriter();
  private app: string | null = null;
  /** Which handshake the client used; logged because it is the first suspect when a client misbehaves. */
  private handshakeKind: "simple" | "complex" = "simple";
  private publish: PublishState = { kind: "none" };
  private nextStreamId = PUBLISH_STREAM_ID;
  private bytesIn = 0;
  private closing = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.remoteAddress = normaliseAddress(socket.remoteAddress);
    this.parser.limitMessageSize(PRE_AUTH_MESSAGE_LIMIT);
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("timeout", () => this.shutdown("media timeout", "destroy"));
    socket.on("end", () => this.shutdown("client disconnected", "end"));
    // Resets, EPIPE and friends are the normal way publishers vanish; they must never escape.
    socket.on("error", (error) => this.shutdown(`socket error: ${errorText(error)}`, "destroy"));
    socket.on("close", () => this.onSocketClosed());
    this.idleTimer = setTimeout(() => this.shutdown("idle timeout", "destroy"), ctx.idleTimeoutMs);
  }

  /** Closes the connection. "end" flushes what we wrote first (refusals must reach the client). */
  shutdown(reason: string, how: "end" | "destroy"): void {
    if (this.closing) {
      if (how === "destroy") this.socket.destroy();
      return;
    }
    this.closing = true;
    this.clearIdleTimer();
    this.socket.setTimeout(0);
    this.finishPublish(reason);
    if (how === "destroy" || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    this.socket.end();
    this.graceTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
  }

  private onSocketClosed(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    if (!this.closing) this.shutdown("client disconnected", "destroy");
    this.ctx.onClosed(this);
  }

  private finishPublish(reason: string): void {
    const state = this.publish;
    this.publish = { kind: "done" };
    if (state.kind !== "live") return;
    this.ctx.release(state.session);
    this.ctx.logger.info(
      {
        sessionId: state.session.id,
        streamId: state.session.streamId,
        remoteAddress: this.remoteAddress,
        bytesReceived: state.session.bytesReceived,
        reason,
      },
      "rtmp publish ended",
    );
    state.session.finish(reason);
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private send(message: OutgoingMessage): void {
    if (!this.closing && this.socket.writable) this.socket.write(this.writer.encode(message));
  }

  private sendRaw(data: Buffer): void {
    if (!this.closing && this.socket.writable) this.socket.write(data);
  }

  // -------------------------------------------------------------------------------------------
  // Inbound bytes

  private onData(data: Buffer): void {
    if (this.closing) return;
    this.bytesIn += data.length;
    if (this.publish.kind === "live") this.publish.session.bytesReceived = this.bytesIn;
    try {
      if (!this.handshake.done) {
        for (const step of this.handshake.push(data)) {
          if (step.kind === "reply") {
            this.handshakeKind = step.scheme === null ? "simple" : "complex";
            this.sendRaw(step.data);
          } else if (step.kind === "done" && step.rest.length > 0) this.onChunks(step.rest);
        }
      } else {
        this.onChunks(data);
      }
      const ack = this.writer.acknowledge(this.bytesIn);
      if (ack) this.sendRaw(ack);
    } catch (error) {
      if (error instanceof HandshakeError || error instanceof ChunkParserError || error instanceof CommandError || error instanceof Amf0Error) {
        this.ctx.logger.warn({ connId: this.id, remoteAddress: this.remoteAddress, err: errorText(error) }, "rtmp protocol error");
        this.shutdown(`protocol error: ${errorText(error)}`, "destroy");
        return;
      }
      // Anything else is our bug or a throwing "tag" listener; contain it to this connection.
      this.ctx.logger.error({ connId: this.id, remoteAddress: this.remoteAddress, err: errorText(error) }, "rtmp connection failed");
      this.shutdown("internal error", "destroy");
    }
  }

  private onChunks(data: Buffer): void {
    for (const message of this.parser.push(data)) {
      if (this.closing) return;
      this.onMessage(message);
    }
  }

  private onMessage(message: RtmpMessage): void {
    switch (message.typeId) {
      case MSG.windowAckSize:
        if (message.payload.length >= 4) this.writer.setPeerWindow(message.payload.readUInt32BE(0));
        return;
      case MSG.userControl:
        if (message.payload.length >= 6 && message.payload.readUInt16BE(0) === USER_CONTROL.pingRequest) {
          this.send(pingResponseMessage(message.payload.readUInt32BE(2)));
        }
        return;
      case MSG.audio:
      case MSG.video:
        this.onMedia(message.typeId, message.timestamp, message.payload);
        return;
      case MSG.dataAmf0:
        this.onData18(message.timestamp, message.payload);
        return;
      case MSG.dataAmf3:
        // Format byte, then AMF0 as with commands.
        this.onData18(message.timestamp, message.payload.subarray(1));
        return;
      case MSG.aggregate:
        this.onAggregate(message);
        return;
      case MSG.commandAmf0:
      case MSG.commandAmf3:
        this.onCommand(parseCommand(message), message.streamId);
        return;
      default:
        // Set Chunk Size and Abort were applied by the parser; acks, peer bandwidth and shared
        // objects need nothing from an ingest.
        return;
    }
  }

  /** The live session, or null while not (yet) publishing: media before Publish.Start is dropped. */
  private liveSession(): RtmpPublishSession | null {
    return this.publish.kind === "live" ? this.publish.session : null;
  }

  private emitTag(type: 8 | 9 | 18, timestamp: number, data: Buffer): void {
    const session = this.liveSession();
    if (!session) return;
    const tag: FlvTag = { type, timestamp, data, arrivalMs: Date.now() };
    session.pushTag(tag);
  }

  private onMedia(type: 8 | 9, timestamp: number, payload: Buffer): void {
    // Empty audio/video messages are keep-alives some encoders send; they are not FLV tags.
    if (payload.length > 0) this.emitTag(type, timestamp, payload);
  }

  private onData18(timestamp: number, payload: Buffer): void {
    const session = this.liveSession();
    if (!session) return;
    let first;
    try {
      first = decodeAmf0(payload, 0);
    } catch {
      return; // an undecodable data message is not worth the connection
    }
    if (first.value === "@clearDataFrame") return;
    // Publishers wrap metadata as `@setDataFrame, onMetaData, {...}`; an FLV script tag is just
    // `onMetaData, {...}`, so drop the wrapper by slicing rather than re-encoding.
    const data = first.value === "@setDataFrame" ? payload.subarray(first.offset) : payload;
    const metadata = parseOnMetaData(data);
    if (metadata) {
      if (metadata.width !== undefined) session.metadata.width = metadata.width;
      if (metadata.height !== undefined) session.metadata.height = metadata.height;
      if (metadata.framerate !== undefined) session.metadata.fps = metadata.framerate;
    }
    this.emitTag(FLV_TAG_SCRIPT, timestamp, data);
  }

  private onAggregate(message: RtmpMessage): void {
    if (!this.liveSession()) return;
    let tags;
    try {
      tags = splitAggregate(message.payload, message.timestamp);
    } catch (error) {
      this.ctx.logger.warn({ connId: this.id, remoteAddress: this.remoteAddress, err: errorText(error) }, "bad rtmp aggregate");
      return;
    }
    for (const tag of tags) {
      if (tag.type === 8 || tag.type === 9) this.onMedia(tag.type, tag.timestamp, tag.data);
      else if (tag.type === 18) this.onData18(tag.timestamp, tag.data);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  private onCommand(cmd: RtmpCommand, messageStreamId: number): void {
    switch (cmd.name) {
      case "connect":
        this.onConnect(cmd);
        return;
      case "releaseStream":
      case "FCPublish":
        // Legacy FMS calls OBS and ffmpeg make before publishing; they only want an answer.
        if (cmd.transactionId !== 0) this.send(resultMessage(cmd.transactionId, null));
        return;
      case "createStream":
        if (!this.app) throw new CommandError("createStream before connect");
        this.send(resultMessage(cmd.transactionId, null, this.nextStreamId++));
        return;
      case "publish":
        this.onPublishCommand(cmd, messageStreamId);
        return;
      case "FCUnpublish":
      case "deleteStream":
      case "closeStream":
        if (this.publish.kind === "live" || this.publish.kind === "authorizing") this.shutdown("unpublished", "end");
        return;
      case "play":
        this.send(
          errorMessage(cmd.transactionId, {
            level: "error",
            code: "NetStream.Play.Failed",
            description: "This server only accepts publishing.",
          }),
        );
        this.shutdown("play not supported", "end");
        return;
      default:
        // _checkbw, getStreamLength, replies to nothing we asked: harmless, ignored.
        return;
    }
  }

  private onConnect(cmd: RtmpCommand): void {
    if (this.app !== null) throw new CommandError("connect sent twice");
    const object = isAmf0Object(cmd.commandObject) ? cmd.commandObject : {};
    const app = typeof object.app === "string" ? normaliseApp(object.app) : "";
    if (!this.ctx.apps.has(app)) {
      // Only the first segment is logged: clients configured with `rtmp://host/live/<key>` as the
      // server URL send the key as part of the app name.
      this.ctx.logger.warn(
        { connId: this.id, remoteAddress: this.remoteAddress, app: app.split("/")[0] },
        "rtmp connect to unknown app refused",
      );
      this.send(
        errorMessage(cmd.transactionId, {
          level: "error",
          code: "NetConnection.Connect.Rejected",
          description: `Application "${app}" is not available.`,
        }),
      );
      this.shutdown("unknown app", "end");
      return;
    }
    this.app = app;
    const objectEncoding = typeof object.objectEncoding === "number" ? object.objectEncoding : 0;
    this.send(windowAckSizeMessage(WINDOW_ACK_SIZE));
    this.send(setPeerBandwidthMessage(PEER_BANDWIDTH, PEER_BANDWIDTH_LIMIT.dynamic));
    this.sendRaw(this.writer.setChunkSize(OUT_CHUNK_SIZE));
    this.send(
      resultMessage(
        cmd.transactionId,
        { fmsVer: "FMS/3,0,1,123", capabilities: 31 },
        {
          level: "status",
          code: "NetConnection.Connect.Success",
          description: "Connection succeeded.",
          objectEncoding,
        },
      ),
    );
    this.ctx.logger.info(
      { connId: this.id, remoteAddress: this.remoteAddress, app, handshake: this.handshakeKind },
      "rtmp connected",
    );
  }

  private onPublishCommand(cmd: RtmpCommand, messageStreamId: number): void {
    const app = this.app;
    if (app === null) throw new CommandError("publish before connect");
    if (this.publish.kind !== "none") {
      this.refuse(cmd, messageStreamId, "This connection is already publishing.", "duplicate publish on one connection");
      return;
    }
    const name = cmd.args[0];
    // OBS users paste keys like `abc?bandwidthtest=true`; the query is not part of the key.
    const key = typeof name === "string" ? (name.split("?")[0] ?? "") : "";
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      this.refuse(cmd, messageStreamId, "Missing or malformed stream key.", "malformed stream key");
      return;
    }
    this.publish = { kind: "authorizing" };
    this.authorizeAndStart(cmd, messageStreamId, app, key).catch((error: unknown) => {
      // Only reachable through a bug (authorize() never rejects); contain it to this connection.
      this.ctx.logger.error({ connId: this.id, remoteAddress: this.remoteAddress, err: redact(errorText(error), key) }, "rtmp publish failed");
      this.shutdown("internal error", "destroy");
    });
  }

  private async authorizeAndStart(cmd: RtmpCommand, messageStreamId: number, app: string, key: string): Promise<void> {
    const result = await this.authorize({ app, key, remoteAddress: this.remoteAddress });
    // The publisher may have hung up or unpublished while we waited.
    if (this.closing || this.publish.kind !== "authorizing") return;
    if (!result.ok) {
      this.refuse(cmd, messageStreamId, result.reason || "Stream key refused.", redact(result.reason, key));
      return;
    }
    if (!isStreamId(result.streamId)) {
      this.ctx.logger.error({ connId: this.id, remoteAddress: this.remoteAddress }, "authorizer returned an invalid streamId");
      this.refuse(cmd, messageStreamId, "Stream key refused.", "invalid streamId from authorizer");
      return;
    }

    const session = new RtmpPublishSession({
      id: this.id,
      streamId: result.streamId,
      app,
      remoteAddress: this.remoteAddress,
      startedAt: Date.now(),
      requestClose: (reason) => this.shutdown(reason, "end"),
    });
    if (!this.ctx.claim(session)) {
      this.refuse(cmd, messageStreamId, "This stream is already publishing.", "already publishing", result.streamId);
      return;
    }
    session.bytesReceived = this.bytesIn;
    this.publish = { kind: "live", session, messageStreamId };
    this.clearIdleTimer();
    this.parser.limitMessageSize(Number.POSITIVE_INFINITY);
    this.socket.setTimeout(this.ctx.mediaTimeoutMs);
    this.send(streamBeginMessage(messageStreamId));
    this.send(
      onStatusMessage(messageStreamId, {
        level: "status",
        code: "NetStream.Publish.Start",
        description: "Publishing started.",
      }),
    );
    this.ctx.logger.info(
      { sessionId: session.id, streamId: session.streamId, app, remoteAddress: this.remoteAddress },
      "rtmp publish started",
    );
    try {
      this.ctx.onPublish(session);
    } catch (error) {
      this.ctx.logger.error({ sessionId: session.id, streamId: session.streamId, err: errorText(error) }, "onPublish failed");
      this.shutdown("internal error", "end");
    }
  }

  /** Never rejects: a throwing, rejecting or hanging authoriser is a refusal, not a crash. */
  private async authorize(req: { app: string; key: string; remoteAddress: string }): Promise<AuthResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<AuthResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: "authorization timed out" }), this.ctx.authorizeTimeoutMs);
    });
    try {
      const result: unknown = await Promise.race([this.ctx.authorizer.authorize(req), timeout]);
      if (typeof result === "object" && result !== null && "ok" in result) {
        const { ok, streamId, reason } = result as { ok: unknown; streamId?: unknown; reason?: unknown };
        if (ok === true && typeof streamId === "string") return { ok: true, streamId };
        if (ok === false) return { ok: false, reason: typeof reason === "string" ? reason : "" };
      }
      throw new TypeError("authorizer returned a malformed result");
    } catch (error) {
      this.ctx.logger.error(
        { connId: this.id, remoteAddress: this.remoteAddress, err: redact(errorText(error), req.key) },
        "rtmp authorizer failed",
      );
      return { ok: false, reason: "authorization unavailable" };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells the publisher why (onStatus + `_error`), then closes once that is flushed. */
  private refuse(cmd: RtmpCommand, messageStreamId: number, description: string, logReason: string, streamId?: string): void {
    const info: StatusInfo = { level: "error", code: "NetStream.Publish.BadName", description };
    this.send(onStatusMessage(messageStreamId, info));
    if (cmd.transactionId !== 0) this.send(errorMessage(cmd.transactionId, info));
    this.ctx.logger.warn(
      { connId: this.id, remoteAddress: this.remoteAddress, app: this.app, streamId, reason: logReason },
      "rtmp publish refused",
    );
    this.shutdown("publish refused", "end");
  }
}
