import type { UserClaims } from "../accounts/user-token.ts";
import { isStreamId, STREAM_ID_PATTERN } from "../../shared/ids.ts";
import { forbidden, invalidFields, notFound } from "../http/api-error.ts";
import type { StreamRow } from "./model.ts";
import { getStream } from "./stream-store.ts";

/** The owner and admins manage a stream; everyone else only reads its public view. */
export const canManage = (user: UserClaims | null, stream: StreamRow): boolean => !!user && (user.sub === stream.user_id || user.role === "admin");

/** 400 for an id that cannot be a stream id, 404 when there is no such stream. */
export const loadStream = async (db: D1Database, id: string): Promise<StreamRow> => {
  if (!isStreamId(id)) throw invalidFields({ id: `must match ${STREAM_ID_PATTERN.source}` }, "invalid stream id");
  const stream = await getStream(db, id);
  if (!stream) throw notFound("stream");
  return stream;
};

/** The stream, when `user` may manage it; 403 otherwise. */
export const loadManagedStream = async (db: D1Database, id: string, user: UserClaims): Promise<StreamRow> => {
  const stream = await loadStream(db, id);
  if (!canManage(user, stream)) throw forbidden("only the stream's owner or an admin may do this");
  return stream;
};

/**
 * The stream, when `user` may see it: a private stream is a plain 404 to everyone but its owner and
 * admins, so the API does not even confirm that it exists.
 */
export const loadVisibleStream = async (db: D1Database, id: string, user: UserClaims | null): Promise<StreamRow> => {
  const stream = await loadStream(db, id);
  if (stream.visibility === "private" && !canManage(user, stream)) throw notFound("stream");
  return stream;
};
