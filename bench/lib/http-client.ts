/**
 * A minimal HTTP/1.1 keep-alive GET client on a raw socket, for the load generator. node:http's
 * client costs tens of microseconds per request in object churn; with 1,000 clients woken by the
 * same part that cost lands in the measured latency of the last ones and hides the server under
 * test. This one writes a pre-formatted request and parses just the status line, Content-Length or
 * chunked framing, and the body. One request at a time per connection (like one player).
 */
import net from "node:net";

export interface HttpResponse {
  status: number;
  body: Buffer;
  /** Status line and headers, as received (latin1), for the few callers that look at a header. */
  head: string;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");

export class KeepAliveClient {
  private socket: net.Socket | null = null;
  private pending: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | null = null;
  private buf: Buffer = Buffer.alloc(0);
  /**
   * Chunks of a Content-Length body still incomplete, kept apart from `buf` and joined once when the
   * body is complete: concatenating every chunk into `buf` would copy a 200 KB body several times.
   */
  private later: Buffer[] = [];
  private laterBytes = 0;
  /** Parsed head of the response in progress. */
  private head: { status: number; text: string; bodyStart: number; length: number | null; chunked: boolean } | null = null;

  /** Extra request header lines, pre-formatted (`Name: value\r\n` each). */
  private readonly extraHeaders: string;

  /** @param headers extra request headers (e.g. `{ "accept-encoding": "gzip" }`, as browsers send) */
  constructor(
    private readonly host: string,
    private readonly port: number,
    headers: Record<string, string> = {},
  ) {
    this.extraHeaders = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.on("data", (chunk: Buffer) => {
      // Nothing from a connection close() has given up on.
      if (this.socket === socket) this.onData(chunk);
    });
    const fail = (err: Error) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.drop(err);
    };
    socket.on("error", (err: NodeJS.ErrnoException) => fail(new Error(err.code ?? err.message)));
    socket.on("close", () => fail(new Error("ECONNRESET")));
    this.socket = socket;
    return socket;
  }

  get(pathAndQuery: string): Promise<HttpResponse> {
    if (this.pending) return Promise.reject(new Error("request already in flight"));
    const socket = this.socket ?? this.connect();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${this.extraHeaders}\r\n`);
    });
  }

  /** Closes the connection (a request in flight is rejected); the next get() opens a new one. */
  close(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    this.drop(new Error("closed"));
  }

  /** The connection is gone: whatever part of a response had arrived belongs to it; a request in flight fails with `err`. */
  private drop(err: Error): void {
    this.buf = Buffer.alloc(0);
    this.later = [];
    this.laterBytes = 0;
    this.head = null;
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  private onData(chunk: Buffer): void {
    const waiting = this.head;
    if (waiting && !waiting.chunked && waiting.length !== null && this.buf.length + this.laterBytes + chunk.length < waiting.bodyStart + waiting.length) {
      this.later.push(chunk);
      this.laterBytes += chunk.length;
      return;
    }
    if (this.later.length > 0) {
      this.buf = Buffer.concat([this.buf, ...this.later, chunk]);
      this.later = [];
      this.laterBytes = 0;
    } else this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (!this.head) {
        const end = this.buf.indexOf(HEADER_END);
        if (end < 0) return;
        const head = this.buf.toString("latin1", 0, end);
        const status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        this.head = { status, text: head, bodyStart: end + 4, length: length ? Number(length[1]) : null, chunked: /\r\ntransfer-encoding:\s*chunked/i.test(head) };
      }
      const h = this.head;
      let body: Buffer;
      let consumed: number;
      if (h.chunked) {
        const parsed = parseChunked(this.buf, h.bodyStart);
        if (!parsed) return;
        ({ body, consumed } = parsed);
      } else {
        const length = h.length ?? 0;
        if (this.buf.length < h.bodyStart + length) return;
        body = this.buf.subarray(h.bodyStart, h.bodyStart + length);
        consumed = h.bodyStart + length;
      }
      this.buf = this.buf.subarray(consumed);
      this.head = null;
      const p = this.pending;
      this.pending = null;
      p?.resolve({ status: h.status, body, head: h.text });
      if (this.buf.length === 0) return;
    }
  }
}

/** The body of a complete chunked message starting at `start`, or null while incomplete. */
const parseChunked = (buf: Buffer, start: number): { body: Buffer; consumed: number } | null => {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = buf.indexOf(CRLF, at);
    if (eol < 0) return null;
    const size = parseInt(buf.toString("latin1", at, eol), 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size");
    if (size === 0) {
      // No trailers from the servers under test: the last chunk is followed by one CRLF.
      if (buf.length < eol + 4) return null;
      return { body: Buffer.concat(parts), consumed: eol + 4 };
    }
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
};
