import type { Context } from "hono";
import { edgeConfig } from "../config.ts";
import { unauthorized, unavailable } from "../http/api-error.ts";
import { MIN_JWT_SECRET_LENGTH, verifyUserToken, type UserClaims } from "./user-token.ts";

/** The HS256 secret, or 503 when it is missing or too short to be one. */
export const jwtSecret = (env: Env): string => {
  const secret = edgeConfig(env).jwtSecret;
  if (secret.length < MIN_JWT_SECRET_LENGTH) throw unavailable(`accounts are disabled: JWT_SECRET is not configured (at least ${MIN_JWT_SECRET_LENGTH} characters)`);
  return secret;
};

/** The token after `Bearer `, null when there is no Authorization header, "" when it is not a bearer one. */
export const bearerToken = (header: string | undefined): string | null => {
  if (header === undefined) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1]! : "";
};

/** The caller's claims when a valid user token is presented; null with no token; 401 for a bad one. */
export const optionalUser = async (c: Context<{ Bindings: Env }>): Promise<UserClaims | null> => {
  const token = bearerToken(c.req.header("authorization"));
  if (token === null) return null;
  if (token === "") throw unauthorized("the Authorization header must be `Bearer <token>`");
  const result = await verifyUserToken(jwtSecret(c.env), token);
  if (!result.ok) throw unauthorized(result.reason === "expired" ? "token expired" : "invalid token");
  return result.claims;
};

/** The caller's claims; 401 without a valid user token. */
export const requireUser = async (c: Context<{ Bindings: Env }>): Promise<UserClaims> => {
  const user = await optionalUser(c);
  if (!user) throw unauthorized("authentication required: send Authorization: Bearer <token>");
  return user;
};
