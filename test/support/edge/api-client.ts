/**
 * Calls the edge app inside workerd the way a client would, for the control-plane API tests:
 * JSON in and out, bearer tokens, per-call env overrides. D1 is the test project's database
 * (migrated by apply-migrations.ts); tests use unique names, so files can share it.
 */
import type { WorkerEnv } from "../../../edge/config.ts";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createEdgeApp, type EdgeAppOptions } from "../../../edge/app.ts";

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string | null;
  /** A JSON value to send; `raw` sends a string as is. */
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

export const testEnv = (): WorkerEnv => env as unknown as WorkerEnv;

/** The test bindings less one the generated `Env` calls required: how a deployment without it behaves. */
export const withoutBinding = (name: keyof Env): WorkerEnv => ({ ...testEnv(), [name]: undefined }) as unknown as WorkerEnv;

let seq = 0;
/** A username unique to this run (≤ 32 characters, matches the username rule). */
export const uniqueName = (prefix: string): string => `${prefix}_${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);

export const apiClient = (options: EdgeAppOptions & { env?: Partial<WorkerEnv> } = {}) => {
  const { app } = createEdgeApp(options);
  const call = async <T = Record<string, unknown>>(method: string, path: string, o: CallOptions = {}, envOverrides: Partial<WorkerEnv> = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.json !== undefined) body = JSON.stringify(o.json);
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge.test${path}`, { method, headers, body }), { ...testEnv(), ...options.env, ...envOverrides }, ctx);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };

  const signUp = async (prefix = "user", password = "correct horse battery") => {
    const username = uniqueName(prefix);
    const r = await call<{ token: string; user: { id: string; username: string; role: string } }>("POST", "/api/v1/users", { json: { username, password } });
    if (r.status !== 201) throw new Error(`sign-up failed: ${r.status} ${r.text}`);
    return { username, password, token: r.body.token, user: r.body.user };
  };

  const login = async (username: string, password: string) => {
    const r = await call<{ token: string }>("POST", "/api/v1/sessions", { json: { username, password } });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    return r.body.token;
  };

  /** Gives a user another role (directly in D1) and returns a fresh token carrying it. */
  const withRole = async (u: { username: string; password: string }, role: string) => {
    await testEnv().DB!.prepare("UPDATE users SET role = ?1 WHERE username = ?2").bind(role, u.username).run();
    return login(u.username, u.password);
  };

  const createStream = async (token: string, json: Record<string, unknown> = { title: "A stream" }) => {
    const r = await call<{ stream_id: string; stream_key: string; status: string }>("POST", "/api/v1/streams", { token, json });
    if (r.status !== 201) throw new Error(`create stream failed: ${r.status} ${r.text}`);
    return r.body;
  };

  return { app, call, signUp, login, withRole, createStream };
};

/** Sets columns the saga and the viewer counter own, straight in D1 (they have no API of their own here). */
export const setStreamState = async (id: string, state: { status?: string; viewer_count?: number }): Promise<void> => {
  const db = testEnv().DB!;
  if (state.status !== undefined) await db.prepare("UPDATE streams SET status = ?1 WHERE id = ?2").bind(state.status, id).run();
  if (state.viewer_count !== undefined) await db.prepare("UPDATE streams SET viewer_count = ?1, peak_viewers = max(peak_viewers, ?1) WHERE id = ?2").bind(state.viewer_count, id).run();
};
