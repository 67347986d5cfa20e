import { Hono } from "hono";
import { jwtSecret, requireUser } from "../accounts/auth.ts";
import { hashPassword, verifyPassword } from "../accounts/password.ts";
import { issueUserToken } from "../accounts/user-token.ts";
import { findUserById, findUserByUsername, insertUser, PASSWORD_MAX, PASSWORD_MIN, USERNAME_PATTERN, USERNAME_RULE, userView } from "../accounts/users.ts";
import { requireDb } from "../db/database.ts";
import { refundAttempt, takeAttempt } from "../db/rate-limit.ts";
import { conflict, tooManyRequests, unauthorized } from "../http/api-error.ts";
import { FieldReader } from "../http/fields.ts";
import { assertNoFieldErrors, readJsonObject, unknownFields } from "../http/json-body.ts";
import { edgeConfig } from "../config.ts";

/** `POST /api/v1/users` (sign up), `POST /api/v1/sessions` (log in), `GET /api/v1/me`. */
export const accountRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  app.post("/api/v1/users", async (c) => {
    const body = await readJsonObject(c);
    const f = new FieldReader(body);
    Object.assign(f.errors, unknownFields(body, ["username", "password"]));
    const username = f.string("username", { required: true, max: 32, pattern: USERNAME_PATTERN, patternMessage: `must be ${USERNAME_RULE}`, trim: false });
    const password = f.string("password", { required: true, min: PASSWORD_MIN, max: PASSWORD_MAX, trim: false });
    assertNoFieldErrors(f.errors);
    const secret = jwtSecret(c.env);
    const db = requireDb(c.env);
    if (await findUserByUsername(db, username!)) throw conflict("username is taken", { fields: { username: "is taken" } });
    const user = await insertUser(db, { username: username!, passwordHash: await hashPassword(password!) });
    if (!user) throw conflict("username is taken", { fields: { username: "is taken" } });
    const { token, expiresAt } = await issueUserToken(secret, user);
    return c.json({ user: userView(user), token, token_type: "Bearer", expires_at: expiresAt }, 201, { "cache-control": "no-store" });
  });

  app.post("/api/v1/sessions", async (c) => {
    const body = await readJsonObject(c);
    const f = new FieldReader(body);
    Object.assign(f.errors, unknownFields(body, ["username", "password"]));
    const username = f.string("username", { required: true, min: 1, max: 64, trim: false });
    const password = f.string("password", { required: true, min: 1, max: PASSWORD_MAX, trim: false });
    assertNoFieldErrors(f.errors);
    const secret = jwtSecret(c.env);
    const db = requireDb(c.env);
    const limit = edgeConfig(c.env).loginRateLimit;
    const bucket = `login:${username!.toLowerCase()}`;
    const attempt = await takeAttempt(db, bucket, limit);
    if (!attempt.ok) throw tooManyRequests(attempt.retryAfterS);
    const user = USERNAME_PATTERN.test(username!) ? await findUserByUsername(db, username!) : null;
    // An unknown user costs the same PBKDF2 work as a wrong password.
    if (!(await verifyPassword(password!, user?.password_hash ?? null)) || !user) throw unauthorized("invalid username or password");
    await refundAttempt(db, bucket, limit);
    const { token, expiresAt } = await issueUserToken(secret, user);
    return c.json({ token, token_type: "Bearer", expires_at: expiresAt, user: userView(user) }, 200, { "cache-control": "no-store" });
  });

  app.get("/api/v1/me", async (c) => {
    const claims = await requireUser(c);
    const user = await findUserById(requireDb(c.env), claims.sub);
    if (!user) throw unauthorized("this account no longer exists");
    return c.json({ user: userView(user) }, 200, { "cache-control": "no-store" });
  });

  return app;
};
