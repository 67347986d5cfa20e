/**
 * The chat baseline: a bare `ws` broadcast server, the least a chat server can do. One node
 * process, the `ws` package's WebSocketServer (no permessage-deflate, its default), no auth, no
 * storage, no rate limit, no coalescing: the broadcast loop of the ws README. It speaks the subset
 * of the chat protocol (edge/chat/protocol.ts) the benchmark uses: a `welcome` frame first, then a
 * client's `{type:"message",text}` is answered by broadcasting
 * `{type:"message",id,user_id,username,badges,text,ts}` to every open socket, itself included.
 * The writer's identity is the `user` query parameter (Cascade takes it from the token).
 *
 * Run as its own process: `BENCH_CHAT_BASELINE_PORT=8082 node --import tsx bench/lib/chat-baseline-server.ts`;
 * `GET /healthz` answers 200 once it listens.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { WebSocket, WebSocketServer } from "ws";

const port = Number(process.env.BENCH_CHAT_BASELINE_PORT ?? 0);
const CHAT_PATH = /^\/api\/v1\/streams\/([^/]+)\/chat$/;

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  else res.writeHead(426, { upgrade: "websocket" }).end();
});
const wss = new WebSocketServer({ noServer: true });

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url ?? "/", "http://x");
  const m = CHAT_PATH.exec(url.pathname);
  if (!m) return void socket.destroy();
  const streamId = m[1]!;
  const userId = url.searchParams.get("user");
  wss.handleUpgrade(req, socket, head, (ws) => {
    const user = userId ? { id: userId, username: userId, badges: [] as string[] } : null;
    ws.send(JSON.stringify({ type: "system", event: "welcome", stream_id: streamId, user, can_write: user !== null, can_moderate: false, slow_mode_s: 0, viewer_count: null, history: [] }));
    ws.on("message", (data, isBinary) => {
      if (isBinary || !user) return;
      let frame: { type?: unknown; text?: unknown };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        return;
      }
      if (frame.type !== "message" || typeof frame.text !== "string" || frame.text.trim() === "") return;
      const payload = JSON.stringify({ type: "message", id: randomUUID(), user_id: user.id, username: user.username, badges: user.badges, text: frame.text.trim(), ts: Date.now() });
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(payload);
    });
  });
});

server.listen(port, "127.0.0.1");
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
