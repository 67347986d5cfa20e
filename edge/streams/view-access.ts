import type { Context } from "hono";
import type { UserClaims } from "../accounts/user-token.ts";
import { notFound } from "../http/api-error.ts";
import { canManage } from "./access.ts";
import type { StreamRow } from "./model.ts";
import { checkPlaybackToken } from "./playback-access.ts";

/**
 * What surrounds a private stream (its details, chat, viewer count) is for whoever may watch it:
 * its owner and admins, or a viewer holding a signed playback token for it (`?playback_token=`,
 * the token of the signed watch link). Anyone else is told the stream does not exist, as by
 * GET /api/v1/streams/:id, so a private stream's existence is not given away either.
 */
export const requireViewAccess = async (c: Context<{ Bindings: Env }>, stream: StreamRow, user: UserClaims | null): Promise<void> => {
  if (stream.visibility !== "private" || canManage(user, stream)) return;
  const token = c.req.query("playback_token");
  if (token && (await checkPlaybackToken(c.env, token, stream.id, new URL(c.req.url).pathname)).ok) return;
  throw notFound("stream");
};
