/**
 * A tiny raw-socket RTMP publisher for tests (not part of the module's API). Unlike ffmpeg it lets
 * a test see every message the server wrote and control exactly when each command goes out.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { decodeAmf0Values, encodeAmf0Values, type Amf0Value } from "../../gpu-transcoder/ingest/amf0.ts";
import { ChunkParser, type RtmpMessage } from "../../gpu-transcoder/ingest/chunk-parser.ts";
import { ChunkWriter, MSG } from "../../gpu-transcoder/ingest/chunk-writer.ts";

export interface ReceivedCommand {
  name: string;
  transactionId: number;
  values: Amf0Value[];
  streamId: number;
}

export class TestRtmpClient {
  readonly received: RtmpMessage[] = [];
  readonly closed: Promise<void>;
  private readonly parser = new ChunkParser();
  private readonly writer = new ChunkWriter();
  private listeners: Array<() => void> = [];
  private isClosed = false;
  private transaction = 0;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.isClosed = true;
        this.notify();
        resolve();
      });
    });
    socket.on("error", () => {});
  }

  /** Connects and completes a simple handshake. */
  static async open(port: number): Promise<TestRtmpClient> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new TestRtmpClient(socket);
    const c1 = randomBytes(1536);
    c1.writeUInt32BE(0, 0);
    c1.writeUInt32BE(0, 4);
    socket.write(Buffer.concat([Buffer.from([3]), c1]));
    let buffered = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer) => {
        buffered = Buffer.concat([buffered, data]);
        if (buffered.length < 1 + 1536 * 2) return;
        socket.off("data", onData);
        if (!buffered.subarray(1 + 1536, 1 + 3072).equals(c1)) reject(new Error("S2 does not echo C1"));
        socket.write(buffered.subarray(1, 1 + 1536)); // C2 echoes S1
        socket.on("data", (more: Buffer) => client.onData(more));
        client.onData(buffered.subarray(1 + 3072));
        resolve();
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error("closed during handshake")));
    });
    return client;
  }

  private onData(data: Buffer): void {
    if (data.length === 0) return;
    this.received.push(...this.parser.push(data));
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  get socketClosed(): boolean {
    return this.isClosed;
  }

  /** Commands (type 20) received so far, decoded. */
  commands(): ReceivedCommand[] {
    return this.received
      .filter((m) => m.typeId === MSG.commandAmf0)
      .map((m) => {
        const values = decodeAmf0Values(m.payload);
        return { name: String(values[0]), transactionId: Number(values[1]), values, streamId: m.streamId };
      });
  }

  /** Status codes seen in onStatus/_result/_error info objects, in order. */
  codes(): string[] {
    return this.commands().flatMap((c) =>
      c.values.flatMap((v) => (v !== null && typeof v === "object" && "code" in v && typeof v.code === "string" ? [v.code] : [])),
    );
  }

  /** Resolves once `predicate` holds (checked on every message and on close). */
  waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 3000, what = "condition"): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = predicate();
        if (value !== undefined && value !== false) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.codes())}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
      check();
    });
  }

  waitForCommand(name: string, timeoutMs = 3000): Promise<ReceivedCommand> {
    return this.waitFor(() => this.commands().find((c) => c.name === name), timeoutMs, `command ${name}`);
  }

  waitForCode(code: string, timeoutMs = 3000): Promise<string> {
    return this.waitFor(() => this.codes().find((c) => c === code), timeoutMs, `code ${code}`);
  }

  send(typeId: number, payload: Buffer, streamId = 0, chunkStreamId = 3, timestamp = 0): void {
    this.socket.write(this.writer.encode({ chunkStreamId, typeId, streamId, timestamp, payload }));
  }

  sendRaw(data: Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command and returns its transaction id. */
  command(name: string, commandObject: Amf0Value, args: Amf0Value[] = [], streamId = 0): number {
    const transactionId = ++this.transaction;
    this.send(MSG.commandAmf0, encodeAmf0Values([name, transactionId, commandObject, ...args]), streamId, streamId === 0 ? 3 : 8);
    return transactionId;
  }

  connectApp(app: string): number {
    return this.command("connect", { app, type: "nonprivate", flashVer: "FMLE/3.0 (compatible; test)", tcUrl: `rtmp://127.0.0.1/${app}` });
  }

  /** connect → createStream → publish, without waiting for any reply (like a pipelining client). */
  startPublish(app: string, name: string): void {
    this.connectApp(app);
    this.command("releaseStream", null, [name]);
    this.command("FCPublish", null, [name]);
    this.command("createStream", null);
    this.command("publish", null, [name, "live"], 1);
  }

  sendVideo(timestamp: number, data: Buffer): void {
    this.send(MSG.video, data, 1, 6, timestamp);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
