/**
 * The object `onPublish` receives: identity of an authorised publish plus its tag stream.
 * The connection owns the socket; the session only asks it to shut down, so there is exactly one
 * path that closes a publish and "close" fires exactly once whoever started it.
 */
import { EventEmitter } from "node:events";
import type { FlvTag, PublishSession, PublishSessionEvents } from "./types.ts";

export interface PublishSessionInit {
  id: string;
  streamId: string;
  app: string;
  remoteAddress: string;
  startedAt: number;
  /** Asks the owning connection to close; it calls `finish` when done. */
  requestClose: (reason: string) => void;
}

export class RtmpPublishSession extends EventEmitter<PublishSessionEvents> implements PublishSession {
  readonly id: string;
  readonly streamId: string;
  readonly app: string;
  readonly remoteAddress: string;
  readonly startedAt: number;
  readonly metadata: { width?: number; height?: number; fps?: number } = {};
  bytesReceived = 0;

  private readonly requestClose: (reason: string) => void;
  private finished = false;

  constructor(init: PublishSessionInit) {
    super();
    this.id = init.id;
    this.streamId = init.streamId;
    this.app = init.app;
    this.remoteAddress = init.remoteAddress;
    this.startedAt = init.startedAt;
    this.requestClose = init.requestClose;
  }

  get closed(): boolean {
    return this.finished;
  }

  close(reason = "closed by server"): void {
    if (!this.finished) this.requestClose(reason);
  }

  /** Called by the connection only. */
  pushTag(tag: FlvTag): void {
    if (!this.finished) this.emit("tag", tag);
  }

  /** Called by the connection only, once the publish is over. */
  finish(reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.emit("close", reason);
  }
}
