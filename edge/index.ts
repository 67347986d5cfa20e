/** The edge Worker entry: LL-HLS delivery with cache and coalescing, prewarm, player and directory pages. */
import { withAnalyticsRetention } from "./analytics/retention.ts";
import { createEdgeApp } from "./app.ts";
import { createQueueHandler } from "./notifications/queue-handler.ts";
import { recordingsScheduled } from "./recordings/retention.ts";

const { app } = createEdgeApp();

/** Go-live fan-out and webhook deliveries (wrangler.toml `[[queues.consumers]]`). */
const queue = createQueueHandler();

/** The cron job (wrangler.toml `[triggers] crons`): recordings retention and unfinished conversions; analytics retention. */
const scheduled = withAnalyticsRetention(recordingsScheduled());

export default { fetch: app.fetch, queue, scheduled } satisfies ExportedHandler<Env>;

export { ChatRoom } from "./do/chat-room/chat-room.ts";
export { StreamControl } from "./do/stream-control/stream-control.ts";
export { ViewerCounter } from "./do/viewer-counter/viewer-counter.ts";
