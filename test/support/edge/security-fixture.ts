/**
 * The cast of the security suite: an owner with a stream, a recording, a webhook, an emote and a
 * notification; another streamer; a viewer; node and admin credentials; and every kind of bad user
 * token (expired, other secret, alg none, wrong issuer, unknown role). Built through the API where
 * one exists, straight in D1 where only the saga or the queue would write.
 */
import { sign } from "hono/jwt";
import { signNodeToken } from "../../../shared/tokens.ts";
import { issueUserToken, TOKEN_ISSUER, USER_TOKEN_TTL_S } from "../../../edge/accounts/user-token.ts";
import { isoNow } from "../../../edge/db/database.ts";
import { randomId } from "../../../edge/db/ids.ts";
import { apiClient, testEnv } from "./api-client.ts";
import { insertRecording } from "./recordings.ts";

/** The origin as the edge sees it in these tests: nothing exists there, and nothing is reached. */
export const originCalls: string[] = [];
export const upstream = async (req: Request): Promise<Response> => {
  originCalls.push(`${req.method} ${new URL(req.url).pathname}`);
  return Response.json({ error: "not found" }, { status: 404 });
};

export const api = apiClient({ upstream });

const b64url = (text: string): string => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export type Fixture = Awaited<ReturnType<typeof buildFixture>>;

export const buildFixture = async () => {
  const env = testEnv();
  const secret = env.JWT_SECRET!;
  const owner = await api.signUp("sec_owner");
  const other = await api.signUp("sec_other");
  const viewerAccount = await api.signUp("sec_viewer");
  const viewer = { ...viewerAccount, token: await api.withRole(viewerAccount, "viewer") };
  const stream = await api.createStream(owner.token, { title: "Security fixture" });
  const otherStream = await api.createStream(other.token, { title: "Someone else's" });
  const recordingId = await insertRecording({ streamId: stream.stream_id, userId: owner.user.id, status: "dvr" });
  const hook = await api.call<{ webhook: { id: string } }>("POST", "/api/v1/webhooks", { token: owner.token, json: { url: "https://hooks.example.com/cascade", events: ["stream_started"] } });
  if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${hook.text}`);
  const emote = await api.call("PUT", `/api/v1/streams/${stream.stream_id}/chat/emotes/SecKappa`, { token: owner.token, json: { image_url: "https://emotes.example.com/kappa.png" } });
  if (emote.status !== 201) throw new Error(`emote: ${emote.status} ${emote.text}`);
  const notificationId = `n_${randomId(16)}`;
  await env.DB!.prepare("INSERT INTO notifications (id, user_id, type, stream_id, payload, dedupe_key, created_at) VALUES (?1, ?2, 'stream_started', ?3, '{}', ?1, ?4)")
    .bind(notificationId, owner.user.id, stream.stream_id, isoNow())
    .run();

  const claims = { sub: owner.user.id, username: owner.username, role: "streamer" };
  const now = Math.floor(Date.now() / 1000);
  const badTokens = {
    /** Signed with the right secret, but its 24 h ran out an hour ago. */
    expired: (await issueUserToken(secret, { id: owner.user.id, username: owner.username, role: "streamer" }, now - USER_TOKEN_TTL_S - 3600)).token,
    otherSecret: (await issueUserToken("another-jwt-secret-0123456789abcdef", { id: owner.user.id, username: owner.username, role: "admin" })).token,
    algNone: `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(JSON.stringify({ ...claims, role: "admin", iat: now, exp: now + 3600, iss: TOKEN_ISSUER }))}.`,
    wrongIssuer: await sign({ ...claims, iat: now, exp: now + 3600, iss: "someone-else" }, secret, "HS256"),
    unknownRole: await sign({ ...claims, role: "root", iat: now, exp: now + 3600, iss: TOKEN_ISSUER }, secret, "HS256"),
    hs512: await sign({ ...claims, iat: now, exp: now + 3600, iss: TOKEN_ISSUER }, secret, "HS512"),
    garbage: "not.a.jwt",
    /** A node token is no user token. */
    node: await signNodeToken(env.NODE_SECRET!, "sec-node"),
  };

  return {
    owner,
    other,
    viewer,
    streamId: stream.stream_id,
    streamKey: stream.stream_key,
    otherStreamId: otherStream.stream_id,
    recordingId,
    webhookId: hook.body.webhook.id,
    emoteCode: "SecKappa",
    notificationId,
    badTokens,
    nodeToken: await signNodeToken(env.NODE_SECRET!, "sec-node"),
    foreignNodeToken: await signNodeToken("another-node-secret-0123456789", "sec-node"),
    adminToken: env.EDGE_ADMIN_TOKEN!,
  };
};
