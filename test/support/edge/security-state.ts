/**
 * "No state changed": what a refused request could have touched, read before and after it. Every
 * D1 table is read (found in sqlite_master, so a table added by a later migration is covered too),
 * keeping the rows that mention one of the fixture's ids or names — other test files share the
 * database, so unrelated rows may change meanwhile. Plus the fixture recording's R2 objects and the
 * fixture stream's StreamControl state.
 */
import { streamControl } from "../../../edge/do/stream-control/client.ts";
import { testEnv } from "./api-client.ts";
import type { Fixture } from "./security-fixture.ts";

/** FTS5 shadow tables hold the index's binary pages; the virtual table itself is read instead. */
const SHADOW = /_(data|idx|content|docsize|config)$/;

const tables = async (db: D1Database): Promise<string[]> => {
  const { results } = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>();
  return results.map((r) => r.name).filter((n) => !n.startsWith("sqlite_") && !n.startsWith("_cf_") && !n.startsWith("d1_") && !SHADOW.test(n));
};

/** The strings that tie a row to this fixture: ids, usernames, the recording, the webhook, the emote. */
export const scopeOf = (f: Fixture): string[] => [
  f.owner.user.id,
  f.other.user.id,
  f.viewer.user.id,
  f.owner.username,
  f.other.username,
  f.viewer.username,
  f.streamId,
  f.otherStreamId,
  f.recordingId,
  f.webhookId,
  f.notificationId,
  "sec-node",
];

export const snapshot = async (f: Fixture, extraScope: string[] = []): Promise<string[]> => {
  const env = testEnv();
  const db = env.DB!;
  const scope = [...scopeOf(f), ...extraScope];
  const out: string[] = [];
  for (const table of await tables(db)) {
    const { results } = await db.prepare(`SELECT * FROM "${table}"`).all<Record<string, unknown>>();
    for (const row of results) {
      const text = JSON.stringify(row);
      if (scope.some((s) => text.includes(s))) out.push(`${table} ${text}`);
    }
  }
  const listing = await env.RECORDINGS!.list({ prefix: `recordings/${f.recordingId}/` });
  for (const o of listing.objects) out.push(`r2 ${o.key} ${o.etag} ${o.size}`);
  out.push(`saga ${JSON.stringify((await streamControl(env, f.streamId)?.state()) ?? null)}`);
  return out.sort();
};
