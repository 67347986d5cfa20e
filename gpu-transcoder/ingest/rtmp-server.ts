/**
 * The RTMP listener: accepts TCP connections, hands each to an `RtmpConnection`, and keeps the
 * registry that makes one streamId publishable by one connection at a time.
 */
import { createServer, type AddressInfo, type Socket } from "node:net";
import type { RtmpPublishSession } from "./publish-session.ts";
import { RtmpConnection, type ConnectionContext } from "./rtmp-connection.ts";
import type { PublishSession, RtmpServer, RtmpServerOptions } from "./types.ts";

export const createRtmpServer = (options: RtmpServerOptions): RtmpServer => {
  const live = new Map<string, RtmpPublishSession>();
  const connections = new Set<RtmpConnection>();
  const { logger } = options;

  const context: ConnectionContext = {
    apps: new Set(options.apps ?? ["live"]),
    authorizer: options.authorize,
    logger,
    idleTimeoutMs: options.idleTimeoutMs ?? 15_000,
    mediaTimeoutMs: options.mediaTimeoutMs ?? 10_000,
    authorizeTimeoutMs: options.authorizeTimeoutMs ?? 10_000,
    claim: (session) => {
      // Claimed synchronously once authorisation resolves, so two racing publishes of the same
      // streamId cannot both get through.
      if (live.has(session.streamId)) return false;
      live.set(session.streamId, session);
      return true;
    },
    release: (session) => {
      if (live.get(session.streamId) === session) live.delete(session.streamId);
    },
    onPublish: (session) => options.onPublish(session),
    onClosed: (connection) => connections.delete(connection),
  };

  const server = createServer((socket: Socket) => {
    try {
      connections.add(new RtmpConnection(socket, context));
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, "rtmp accept failed");
      socket.destroy();
    }
  });
  server.maxConnections = options.maxConnections ?? 1000;
  // A listener-level error after listen() succeeded (rare: e.g. EMFILE on accept) is logged, not thrown.
  const onServerError = (error: Error): void => logger.error({ err: error.message }, "rtmp server error");

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const onListenError = (error: Error): void => reject(error);
        server.once("error", onListenError);
        server.listen(options.port, options.host, () => {
          server.off("error", onListenError);
          server.on("error", onServerError);
          const port = (server.address() as AddressInfo).port;
          logger.info({ host: options.host, port }, "rtmp ingest listening");
          resolve({ port });
        });
      }),

    close: () =>
      new Promise((resolve) => {
        for (const connection of connections) connection.shutdown("server closing", "destroy");
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
      }),

    sessions: (): PublishSession[] => [...live.values()],
  };
};
