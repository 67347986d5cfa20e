/**
 * A chat WebSocket client for the workerd tests: connects through the edge app (route → ChatRoom),
 * records every frame (coalesced arrays are flattened in order) and waits for matching ones.
 */
import type { WorkerEnv } from "../../../edge/config.ts";
import { createExecutionContext, env } from "cloudflare:test";
import type { Hono } from "hono";
import type { WelcomeFrame } from "../../../edge/chat/protocol.ts";

export type Frame = { type: string } & Record<string, unknown>;

export interface ChatClient {
  ws: WebSocket;
  frames: Frame[];
  /** The next frame (after those already consumed) matching `pred`. */
  next: <T extends Frame = Frame>(pred: (f: Frame) => boolean, what?: string, timeoutMs?: number) => Promise<T>;
  /** Waits until some frame received so far (consumed or not) matches `pred`; does not move the cursor. */
  seen: <T extends Frame = Frame>(pred: (f: Frame) => boolean, what?: string, timeoutMs?: number) => Promise<T>;
  send: (data: unknown) => void;
  closed: () => boolean;
  close: () => void;
}

export const connectChat = async (app: Hono<{ Bindings: Env }>, streamId: string, o: { token?: string; protocol?: string[]; env?: Partial<WorkerEnv> } = {}): Promise<ChatClient> => {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (o.protocol) headers["sec-websocket-protocol"] = o.protocol.join(", ");
  const qs = o.token ? `?token=${encodeURIComponent(o.token)}` : "";
  const res = await app.fetch(new Request(`http://edge.test/api/v1/streams/${streamId}/chat${qs}`, { headers }), { ...(env as unknown as Env), ...o.env }, createExecutionContext());
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  const frames: Frame[] = [];
  let cursor = 0;
  let isClosed = false;
  const waiters: Array<() => void> = [];
  ws.addEventListener("message", (e) => {
    const parsed = JSON.parse(e.data as string) as Frame | Frame[];
    for (const f of Array.isArray(parsed) ? parsed : [parsed]) frames.push(f);
    for (const w of waiters.splice(0)) w();
  });
  ws.addEventListener("close", () => {
    isClosed = true;
  });
  ws.accept();
  const next = async <T extends Frame>(pred: (f: Frame) => boolean, what = "frame", timeoutMs = 5000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (cursor < frames.length) {
        const f = frames[cursor++]!;
        if (pred(f)) return f as T;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames.slice(-5))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  const seen = async <T extends Frame>(pred: (f: Frame) => boolean, what = "frame", timeoutMs = 5000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = frames.find(pred);
      if (hit) return hit as T;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames.slice(-5))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return {
    ws,
    frames,
    next,
    seen,
    send: (d) => ws.send(typeof d === "string" ? d : JSON.stringify(d)),
    closed: () => isClosed,
    close: () => {
      try {
        ws.close(1000, "bye");
      } catch {
        // Already closed.
      }
    },
  };
};

export const welcomeOf = (c: ChatClient) => c.next<WelcomeFrame & Frame>((f) => f.type === "system" && f.event === "welcome", "welcome");
export const isError = (code: string) => (f: Frame) => f.type === "error" && f.code === code;
