/**
 * The origins an edge pulls from: `ORIGIN_URL` is one base URL or several, comma-separated, the
 * primary first and its standbys after. The transcoder pushes to the same list in the same order
 * and fails over the same way, so when the primary dies both sides meet on the standby.
 */
export const originUrls = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim().replace(/\/+$/, ""))
    .filter(Boolean);

/** The primary origin's base URL (what single-origin callers such as the saga's health check use). */
export const primaryOrigin = (value: string): string => originUrls(value)[0] ?? value;

/** Answers that mean "this origin cannot serve now" rather than "this object does not exist". */
const UNAVAILABLE = new Set([502, 503, 504]);

/**
 * Wraps an upstream fetch so a request to the primary goes to the next origin when the primary
 * cannot be reached or answers 502–504. After a failure the isolate prefers the origin that
 * answered for `holdMs`, so a dead primary costs one failed connection per hold, not one per
 * request; then it tries the primary again (it may be back). A 503 from an origin's own blocking
 * timeout also moves on, which at worst asks the standby the same question once.
 */
export class OriginFailover {
  private preferred = 0;
  private preferUntil = 0;

  constructor(
    private readonly origins: string[],
    private readonly now: () => number = Date.now,
    private readonly holdMs = 10_000,
  ) {}

  get primary(): string {
    return this.origins[0]!;
  }

  wrap(upstream: (req: Request) => Promise<Response>): (req: Request) => Promise<Response> {
    if (this.origins.length < 2) return upstream;
    return (req) => this.fetch(upstream, req);
  }

  private async fetch(upstream: (req: Request) => Promise<Response>, req: Request): Promise<Response> {
    const path = req.url.startsWith(this.primary) ? req.url.slice(this.primary.length) : null;
    if (path === null) return upstream(req);
    if (this.now() >= this.preferUntil) this.preferred = 0;
    let lastError: unknown = null;
    let lastResponse: Response | null = null;
    for (let n = 0; n < this.origins.length; n++) {
      const index = (this.preferred + n) % this.origins.length;
      try {
        const res = await upstream(new Request(`${this.origins[index]}${path}`, req));
        if (!UNAVAILABLE.has(res.status) || n === this.origins.length - 1) {
          this.settle(index);
          return res;
        }
        await res.body?.cancel();
        lastResponse = res;
      } catch (err) {
        if (req.signal.aborted) throw err;
        lastError = err;
      }
    }
    if (lastResponse) return lastResponse;
    throw lastError;
  }

  private settle(index: number): void {
    if (index === this.preferred) return;
    this.preferred = index;
    this.preferUntil = index === 0 ? 0 : this.now() + this.holdMs;
  }
}
