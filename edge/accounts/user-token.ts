import { sign, verify } from "hono/jwt";
import type { Role } from "./users.ts";
import { ROLES } from "./users.ts";

/** User tokens: HS256 JWTs (hono's jwt helper) valid for 24 hours. */
export const USER_TOKEN_TTL_S = 24 * 60 * 60;
export const TOKEN_ISSUER = "cascade";
/** Shorter secrets are refused: HS256 is only as strong as its key. */
export const MIN_JWT_SECRET_LENGTH = 32;

export interface UserClaims {
  /** User id. */
  sub: string;
  username: string;
  role: Role;
  iat: number;
  exp: number;
}

export const issueUserToken = async (secret: string, user: { id: string; username: string; role: Role }, nowS = Math.floor(Date.now() / 1000)): Promise<{ token: string; expiresAt: string }> => {
  const exp = nowS + USER_TOKEN_TTL_S;
  const token = await sign({ sub: user.id, username: user.username, role: user.role, iat: nowS, exp, iss: TOKEN_ISSUER }, secret, "HS256");
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
};

export type VerifiedToken = { ok: true; claims: UserClaims } | { ok: false; reason: "expired" | "invalid" };

/** Verifies signature (HS256 only), issuer, `exp`/`iat`, and the claims' shape. */
export const verifyUserToken = async (secret: string, token: string): Promise<VerifiedToken> => {
  if (token.length > 4096) return { ok: false, reason: "invalid" };
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, secret, { alg: "HS256", iss: TOKEN_ISSUER });
  } catch (err) {
    return { ok: false, reason: err instanceof Error && err.name === "JwtTokenExpired" ? "expired" : "invalid" };
  }
  const { sub, username, role, iat, exp } = payload;
  if (typeof sub !== "string" || typeof username !== "string" || typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) return { ok: false, reason: "invalid" };
  if (typeof iat !== "number" || typeof exp !== "number") return { ok: false, reason: "invalid" };
  return { ok: true, claims: { sub, username, role: role as Role, iat, exp } };
};
