import { isStreamId } from "../../shared/ids.ts";
import type { AuthResult, PublishAuthorizer } from "../ingest/types.ts";

export interface ControlPlaneKeysOptions {
  /** Base URL of the control plane (an edge), e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** This node's token (`signNodeToken(secret, nodeId)`), sent as `Authorization: Bearer`. */
  nodeToken: string;
  /** A check slower than this is a refusal. Default 3000 ms (well inside the ingest's 10 s bound). */
  timeoutMs?: number;
  /**
   * Keys checked locally first (the operator's static list, e.g. `npm start`'s `demo` key); a key
   * that list does not know goes to the control plane. Optional.
   */
  local?: PublishAuthorizer;
  fetch?: typeof fetch;
}

/**
 * Authorises publishers through the control plane: `POST /api/v1/ingest/authorize` with the node
 * token. Any failure — timeout, network error, non-200, malformed answer, rate limit — is a
 * refusal: a publisher is never admitted on a guess. The key travels only in the request body and
 * is never logged or put into a reason.
 */
export class ControlPlaneKeys implements PublishAuthorizer {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly o: ControlPlaneKeysOptions) {
    this.url = `${o.baseUrl.replace(/\/+$/, "")}/api/v1/ingest/authorize`;
    this.timeoutMs = o.timeoutMs ?? 3000;
    this.fetch = o.fetch ?? fetch;
  }

  async authorize(req: { app: string; key: string; remoteAddress: string }): Promise<AuthResult> {
    if (this.o.local) {
      const local = await this.o.local.authorize(req);
      if (local.ok) return local;
    }
    return this.ask(req);
  }

  private async ask(req: { app: string; key: string; remoteAddress: string }): Promise<AuthResult> {
    let res: Response;
    try {
      res = await this.fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.o.nodeToken}` },
        body: JSON.stringify({ stream_key: req.key, app: req.app, remote_address: req.remoteAddress.slice(0, 64) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      return { ok: false, reason: timedOut ? `control plane did not answer within ${this.timeoutMs} ms` : "control plane unreachable" };
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      // handled below as a malformed answer
    }
    if (res.status === 429) return { ok: false, reason: `too many key checks; retry after ${res.headers.get("retry-after") ?? "?"} s` };
    if (res.status !== 200) return { ok: false, reason: `control plane answered ${res.status}` };
    const { allowed, stream_id: streamId, reason } = (body ?? {}) as { allowed?: unknown; stream_id?: unknown; reason?: unknown };
    if (allowed === true && typeof streamId === "string" && isStreamId(streamId)) return { ok: true, streamId };
    if (allowed === false) return { ok: false, reason: typeof reason === "string" ? reason.slice(0, 100) : "stream key refused" };
    return { ok: false, reason: "control plane sent a malformed answer" };
  }
}
