/**
 * Stream-key guessing through `POST /api/v1/ingest/authorize` (the node asks before it accepts a
 * publisher): wrong keys are refused, then rate limited with a JSON 429 and Retry-After, per stream,
 * per publisher address, or per node; a guess never starts a go-live or touches the stream. The key
 * comparison is constant time: asserted on the code path (the functions' source: digests compared
 * with an XOR-accumulating loop, never `===`), never by timing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import tokensSource from "../../shared/tokens.ts?raw";
import { signNodeToken } from "../../shared/tokens.ts";
import passwordSource from "../accounts/password.ts?raw";
import { bytesEqual } from "../accounts/password.ts";
import keyCheckSource from "../nodes/key-check.ts?raw";
import adminBearerSource from "../middleware/admin-bearer.ts?raw";
import streamKeysSource from "../streams/stream-keys.ts?raw";
import { testEnv } from "../../test/support/edge/api-client.ts";
import { api, buildFixture, type Fixture } from "../../test/support/edge/security-fixture.ts";
import { snapshot } from "../../test/support/edge/security-state.ts";

type Authorize = { allowed?: boolean; stream_id?: string | null; reason?: string; error?: string; retry_after?: number };

let f: Fixture;
beforeAll(async () => {
  f = await buildFixture();
});

const LIMIT = { KEY_CHECK_RATE_LIMIT: "3/60" };
let addressSeq = 0;
/** A publisher address no other case used (buckets are per address too). */
const freshAddress = () => `198.18.${Math.floor(Math.random() * 250)}.${addressSeq++ % 250}`;

const authorize = (stream_key: string, remote_address?: string, token = f.nodeToken) =>
  api.call<Authorize>("POST", "/api/v1/ingest/authorize", { token, json: { stream_key, app: "live", ...(remote_address ? { remote_address } : {}) } }, LIMIT);

/** The fixture's state apart from the rate-limit counters, which a guess is meant to move. */
const stateWithoutCounters = async () => (await snapshot(f)).filter((row) => !row.startsWith("rate_limits "));

const counters = async (bucket: string) =>
  (await testEnv().DB!.prepare("SELECT count FROM rate_limits WHERE bucket = ?1").bind(bucket).first<{ count: number }>())?.count ?? 0;

/** A key for `streamId` whose secret part is wrong in its last character only. */
const nearMiss = (key: string) => `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;

describe("stream-key guessing", () => {
  it("wrong keys are refused, then 429 with JSON and Retry-After; the stream, its saga and events are untouched", async () => {
    const before = await stateWithoutCounters();
    const guesses = [nearMiss(f.streamKey), `sk_${f.streamId}_${"A".repeat(43)}`, `sk_${f.streamId}_${"_".repeat(43)}`];
    for (const key of guesses) {
      const r = await authorize(key, freshAddress());
      expect(r.status, r.text).toBe(200);
      expect(r.body).toEqual({ allowed: false, stream_id: null, reason: "unknown stream key" });
    }
    expect(await counters(`key:stream:${f.streamId}`)).toBe(3);
    for (const key of [nearMiss(f.streamKey), f.streamKey]) {
      const limited = await authorize(key, freshAddress());
      expect(limited.status, key === f.streamKey ? "the right key, once the stream is under attack" : "a fourth guess").toBe(429);
      expect(limited.headers.get("content-type")).toMatch(/^application\/json/);
      expect(limited.body.error).toBe("too many attempts; try again later");
      const retryAfter = Number(limited.headers.get("retry-after"));
      expect(limited.body.retry_after).toBe(retryAfter);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    expect(await stateWithoutCounters()).toEqual(before);
  });

  it("guesses that name no stream are limited per publisher address, and per node when no address is given", async () => {
    const before = await stateWithoutCounters();
    const address = freshAddress();
    for (const key of ["demo", "live", "sk_notastreamid_x"]) {
      const r = await authorize(key, address);
      expect(r.status, key).toBe(200);
      expect(r.body).toEqual({ allowed: false, stream_id: null, reason: "unknown stream key" });
    }
    const limited = await authorize("' OR 1=1 --", address);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe("too many attempts; try again later");
    expect(await counters(`key:addr:${address}`)).toBe(4);

    const node = await signNodeToken(testEnv().NODE_SECRET!, `guesser-${Date.now().toString(36)}`);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await authorize(`guess-${i}`, undefined, node)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await stateWithoutCounters()).toEqual(before);
  });

});

/** The text of `export const <name> = …` up to the end of its body (the next line that is just `};`). */
const fnSource = (source: string, name: string): string => {
  const start = source.indexOf(`export const ${name} =`);
  expect(start, `${name} is defined`).toBeGreaterThanOrEqual(0);
  const end = source.indexOf("\n};", start);
  return source.slice(start, end < 0 ? undefined : end + 3);
};

/** `===`/`!==` comparisons in `code` other than those listed (lengths, null checks). */
const strictComparisons = (code: string, allowed: RegExp[]): string[] =>
  [...code.matchAll(/[^\s(]+\s*[!=]==\s*[^\s;)]+/g)].map((m) => m[0]).filter((c) => !allowed.some((a) => a.test(c)));

describe("the stream-key comparison is constant time (code path, not timing)", () => {
  it("bytesEqual XORs every byte into an accumulator and returns only after the loop", () => {
    const code = fnSource(passwordSource, "bytesEqual");
    expect(code).toMatch(/diff \|= a\[i\]! \^ b\[i\]!/);
    const loop = code.slice(code.indexOf("for ("));
    expect(loop.slice(0, loop.indexOf("\n")), "no early exit inside the loop").not.toMatch(/return|break/);
    expect(bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(bytesEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
  });

  it("streamKeyMatches hashes the presented key and compares digests with bytesEqual, never ===", () => {
    const code = fnSource(streamKeysSource, "streamKeyMatches");
    expect(code).toMatch(/await hashStreamKey\(key\)/);
    expect(code).toMatch(/bytesEqual\(/);
    // Only the lengths of the two digests (not secret: both are SHA-256 hex) are compared directly.
    expect(strictComparisons(code, [/^storedHash\.length === presented\.length$/])).toEqual([]);
  });

  it("checkStreamKey goes through streamKeyMatches, and spends the same hashing on a key for no stream", () => {
    const code = fnSource(keyCheckSource, "checkStreamKey");
    expect(code).toMatch(/streamKeyMatches\(req\.key, record\.stream_key_hash\)/);
    expect(code).toMatch(/await hashStreamKey\(req\.key\)/);
    expect(strictComparisons(code, [/length === 0$/, /status === "ended"$/])).toEqual([]);
  });

  it("node tokens are checked with crypto.subtle.verify and admin tokens with timingSafeEqualText", () => {
    expect(fnSource(tokensSource, "verifyNodeToken")).toMatch(/crypto\.subtle\.verify\("HMAC"/);
    const equal = fnSource(tokensSource, "timingSafeEqualText");
    expect(equal).toMatch(/crypto\.subtle\.digest\("SHA-256"/);
    expect(equal).toMatch(/diff \|= x\[i\]! \^ y\[i\]!/);
    // The one admin-bearer check of the edge (every `admin` route goes through it).
    expect(adminBearerSource).toMatch(/await timingSafeEqualText\(presented, expected\)/);
    expect(strictComparisons(adminBearerSource, [])).toEqual([]);
  });
});
