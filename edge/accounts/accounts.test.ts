import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { apiClient, testEnv, uniqueName } from "../../test/support/edge/api-client.ts";
import { bytesEqual, parsePasswordHash, PBKDF2_ITERATIONS, SALT_BYTES, verifyPassword } from "./password.ts";

const JWT_SECRET = testEnv().JWT_SECRET!;
const api = apiClient();

type UserBody = { user: { id: string; username: string; role: string; created_at: string }; token: string; expires_at: string };

describe("sign-up, login and /me", () => {
  it("signs up (201, streamer role, token), logs in and reads /me", async () => {
    const username = uniqueName("alice");
    const up = await api.call<UserBody>("POST", "/api/v1/users", { json: { username, password: "s3cret-password" } });
    expect(up.status).toBe(201);
    expect(up.body.user).toMatchObject({ username, role: "streamer" });
    expect(up.body.token.split(".")).toHaveLength(3);
    expect(up.text).not.toContain("pbkdf2");
    expect(up.headers.get("cache-control")).toBe("no-store");

    const me = await api.call<UserBody>("GET", "/api/v1/me", { token: up.body.token });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual(up.body.user);

    const session = await api.call<UserBody>("POST", "/api/v1/sessions", { json: { username, password: "s3cret-password" } });
    expect(session.status).toBe(200);
    expect(typeof session.body.token).toBe("string");
    expect(Date.parse(session.body.expires_at) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    expect((await api.call<UserBody>("GET", "/api/v1/me", { token: session.body.token })).body.user.id).toBe(up.body.user.id);
  });

  it("refuses a wrong password or an unknown user with the same 401", async () => {
    const u = await api.signUp("bob");
    const wrong = await api.call("POST", "/api/v1/sessions", { json: { username: u.username, password: "not the password" } });
    const unknown = await api.call("POST", "/api/v1/sessions", { json: { username: uniqueName("nobody"), password: "whatever-pass" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body).toEqual({ error: "invalid username or password", code: "unauthorized" });
  });

  it("409 when the username is taken", async () => {
    const u = await api.signUp("carol");
    const again = await api.call("POST", "/api/v1/users", { json: { username: u.username, password: "another-password" } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: "username is taken", fields: { username: "is taken" } });
  });

  it("stores PBKDF2-SHA256 with 100,000 iterations and a 16-byte per-user salt", async () => {
    const a = await api.signUp("salt_a", "same password!");
    const b = await api.signUp("salt_b", "same password!");
    const rows = await testEnv()
      .DB!.prepare("SELECT username, password_hash FROM users WHERE username IN (?1, ?2)")
      .bind(a.username, b.username)
      .all<{ username: string; password_hash: string }>();
    const parts = rows.results.map((r) => parsePasswordHash(r.password_hash)!);
    for (const p of parts) {
      expect(p.iterations).toBe(PBKDF2_ITERATIONS);
      expect(p.iterations).toBeGreaterThanOrEqual(100_000);
      expect(p.salt.length).toBe(SALT_BYTES);
      expect(p.hash.length).toBe(32);
    }
    expect(rows.results[0]!.password_hash.startsWith("pbkdf2_sha256$100000$")).toBe(true);
    // Same password, different salts, different hashes.
    expect(bytesEqual(parts[0]!.salt, parts[1]!.salt)).toBe(false);
    expect(rows.results[0]!.password_hash).not.toBe(rows.results[1]!.password_hash);
    expect(await verifyPassword("same password!", rows.results[0]!.password_hash)).toBe(true);
    expect(await verifyPassword("same password?", rows.results[0]!.password_hash)).toBe(false);
    expect(await verifyPassword("same password!", null)).toBe(false);
  });
});

describe("user tokens", () => {
  it("refuses an expired token", async () => {
    const u = await api.signUp("expired");
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ sub: u.user.id, username: u.username, role: "streamer", iat: now - 7200, exp: now - 60, iss: "cascade" }, JWT_SECRET, "HS256");
    const r = await api.call("GET", "/api/v1/me", { token: expired });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: "token expired", code: "unauthorized" });
    expect(r.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("refuses tampered, foreign-key, wrong-issuer, unsigned and malformed tokens", async () => {
    const u = await api.signUp("tamper");
    const [h, p, s] = u.token.split(".");
    const payload = JSON.parse(atob(p!.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
    const forged = btoa(JSON.stringify({ ...payload, role: "admin" })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: u.user.id, username: u.username, role: "admin", iat: now, exp: now + 600 };
    const tokens = [
      `${h}.${forged}.${s}`,
      await sign({ ...claims, iss: "cascade" }, "some-other-secret-0123456789abcdef", "HS256"),
      await sign({ ...claims, iss: "someone-else" }, JWT_SECRET, "HS256"),
      `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${forged}.`,
      "not-a-jwt",
    ];
    for (const token of tokens) {
      const r = await api.call("GET", "/api/v1/me", { token });
      expect(r.status, token).toBe(401);
      expect(r.body).toEqual({ error: "invalid token", code: "unauthorized" });
    }
    expect((await api.call("GET", "/api/v1/me")).status).toBe(401);
    expect((await api.call("GET", "/api/v1/me", { headers: { authorization: "Basic abc" } })).status).toBe(401);
    expect((await api.call("GET", "/api/v1/me", { token: u.token })).status).toBe(200);
  });

  it("answers 503 when JWT_SECRET is not configured", async () => {
    const r = await api.call("POST", "/api/v1/users", { json: { username: uniqueName("nosecret"), password: "password123" } }, { JWT_SECRET: "" });
    expect(r.status).toBe(503);
  });
});

describe("account input", () => {
  it("names every bad field", async () => {
    const cases: Array<[unknown, Record<string, unknown>]> = [
      [{}, { username: "required", password: "required" }],
      [{ username: "ab", password: "password1" }, { username: expect.stringContaining("3–32") }],
      [{ username: "Upper_Case", password: "password1" }, { username: expect.stringContaining("lowercase") }],
      [{ username: "has space", password: "password1" }, { username: expect.any(String) }],
      [{ username: "x".repeat(33), password: "password1" }, { username: expect.any(String) }],
      [{ username: uniqueName("short"), password: "1234567" }, { password: "must be at least 8 characters" }],
      [{ username: uniqueName("long"), password: "p".repeat(129) }, { password: "must be at most 128 characters" }],
      [{ username: 42, password: true }, { username: "must be a string", password: "must be a string" }],
      [{ username: uniqueName("extra"), password: "password1", role: "admin" }, { role: "unknown field" }],
    ];
    for (const [json, fields] of cases) {
      const r = await api.call<{ error: string; fields: Record<string, string> }>("POST", "/api/v1/users", { json });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.fields).toEqual(fields);
    }
    const login = await api.call<{ fields: Record<string, string> }>("POST", "/api/v1/sessions", { json: { username: "someone" } });
    expect(login.status).toBe(400);
    expect(login.body.fields).toEqual({ password: "required" });
  });

  it("400 for bad JSON, empty bodies and non-objects; 413 over 16 KiB", async () => {
    for (const path of ["/api/v1/users", "/api/v1/sessions"]) {
      const bad = await api.call("POST", path, { raw: '{"username": "x",' });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: "request body is not valid JSON" });
      expect(typeof bad.body.detail).toBe("string");
      expect((await api.call("POST", path, { raw: "" })).body).toMatchObject({ error: "request body must be a JSON object" });
      expect((await api.call("POST", path, { raw: "[1,2]" })).body).toEqual({ error: "request body must be a JSON object", code: "invalid_body", detail: "got an array" });
      const big = await api.call("POST", path, { json: { username: "big_one", password: "x".repeat(17 * 1024) } });
      expect(big.status).toBe(413);
      expect(big.body).toEqual({ error: "request body too large", code: "body_too_large", limit_bytes: 16384 });
    }
  });
});

describe("login rate limit", () => {
  it("429 with Retry-After after too many failures for a username; a success does not count", async () => {
    const u = await api.signUp("limited");
    const limit = { LOGIN_RATE_LIMIT: "3/300" };
    const attempt = (password: string) => api.call("POST", "/api/v1/sessions", { json: { username: u.username, password } }, limit);
    expect((await attempt(u.password)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await attempt("wrong-password")).status).toBe(401);
    const limited = await attempt(u.password);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(limited.body).toMatchObject({ error: "too many attempts; try again later", retry_after: retryAfter });
    // Another username is not affected.
    const other = await api.signUp("unlimited");
    expect((await api.call("POST", "/api/v1/sessions", { json: { username: other.username, password: other.password } }, limit)).status).toBe(200);
  });
});
