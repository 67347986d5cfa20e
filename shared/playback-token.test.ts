import { describe, expect, it } from "vitest";
import { derivePlaybackSecret, importPlaybackKey, parsePlaybackToken, signPlaybackToken, verifyPlaybackToken } from "./playback-token.ts";

const NOW = 1_800_000_000;
const key = () => importPlaybackKey("playback-secret-for-unit-tests-0123456789");
const sigOf = (token: string) => token.slice(token.lastIndexOf(".") + 1);
/** Another base64url character in place of the first one of the signature. */
const flipFirst = (token: string) => {
  const at = token.lastIndexOf(".") + 1;
  return token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
};

describe("signed playback tokens", () => {
  it("round-trips stream, expiry and viewer; the signature is 43 base64url characters", async () => {
    const k = await key();
    const plain = await signPlaybackToken(k, { streamId: "cam-1", expires: NOW + 60, viewer: null });
    expect(plain).toMatch(/^cam-1\.1800000060\.[A-Za-z0-9_-]{43}$/);
    expect(await verifyPlaybackToken(k, plain, { streamId: "cam-1", nowS: NOW })).toEqual({ ok: true, claims: { streamId: "cam-1", expires: NOW + 60, viewer: null } });
    const bound = await signPlaybackToken(k, { streamId: "cam-1", expires: NOW + 60, viewer: "session_42" });
    expect(bound).toMatch(/^cam-1\.1800000060\.session_42\.[A-Za-z0-9_-]{43}$/);
    expect(await verifyPlaybackToken(k, bound, { streamId: "cam-1", nowS: NOW })).toMatchObject({ ok: true, claims: { viewer: "session_42" } });
  });

  it("refuses expired, tampered, foreign and other streams' tokens with the exact reason", async () => {
    const k = await key();
    const token = await signPlaybackToken(k, { streamId: "cam-1", expires: NOW + 60, viewer: null });
    const check = (t: string, streamId = "cam-1", nowS = NOW) => verifyPlaybackToken(k, t, { streamId, nowS });
    expect(await check(token, "cam-1", NOW + 60)).toEqual({ ok: false, reason: "expired" });
    expect(await check(token, "cam-1", NOW + 59)).toMatchObject({ ok: true });
    expect(await check(token, "cam-2")).toEqual({ ok: false, reason: "stream" });
    expect(await check(flipFirst(token))).toEqual({ ok: false, reason: "signature" });
    // The claims are signed: moving the expiry, the stream or adding a viewer breaks the signature.
    expect(await check(token.replace(".1800000060.", ".1900000060."))).toEqual({ ok: false, reason: "signature" });
    expect(await check(token.replace("cam-1.", "cam-2."), "cam-2")).toEqual({ ok: false, reason: "signature" });
    expect(await check(token.replace(".1800000060.", ".1800000060.someone."))).toEqual({ ok: false, reason: "signature" });
    const foreign = await signPlaybackToken(await importPlaybackKey("another-secret-entirely-0123456789abcdef"), { streamId: "cam-1", expires: NOW + 60, viewer: null });
    expect(await check(foreign)).toEqual({ ok: false, reason: "signature" });
  });

  it("treats anything not shaped like a token as malformed, before any HMAC", async () => {
    const k = await key();
    const token = await signPlaybackToken(k, { streamId: "cam-1", expires: NOW + 60, viewer: null });
    const sig = sigOf(token);
    // The last character of 43 carries 4 spare bits: a non-zero spare bit is a second spelling.
    const last = sig.at(-1)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const stray = alphabet[alphabet.indexOf(last) ^ 1]!;
    for (const bad of [
      "",
      token.slice(0, -1),
      token.slice(0, token.lastIndexOf(".")),
      `${token}=`,
      `${token}.`,
      token.replace(sig, sig.slice(0, -1) + stray),
      token.replace(sig, sig.replace(/[-_]/g, "+").replace(/^./, "/")),
      token.replace("cam-1", "CAM-1"),
      token.replace("cam-1", "cam%2D1"),
      token.replace(".1800000060.", ".01800000060."),
      token.replace(".1800000060.", ".-1800000060."),
      token.replace(".1800000060.", ".18e8."),
      token.replace(".1800000060.", ".1800000060.bad viewer."),
      token.replace(".1800000060.", ".1800000060.a.b."),
      `${"a".repeat(150)}.1800000060.${sig}`,
      "x".repeat(10_000),
    ]) {
      expect(parsePlaybackToken(bad), bad.slice(0, 80)).toBeNull();
      expect(await verifyPlaybackToken(k, bad, { streamId: "cam-1", nowS: NOW }), bad.slice(0, 80)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("derives a key of its own from another secret", async () => {
    const derived = await derivePlaybackSecret("jwt-secret-for-tests-0123456789abcdef");
    expect(derived.byteLength).toBe(32);
    expect(await derivePlaybackSecret("jwt-secret-for-tests-0123456789abcdef")).toEqual(derived);
    // Signing with the JWT secret itself does not verify under the derived key.
    const raw = await signPlaybackToken(await importPlaybackKey("jwt-secret-for-tests-0123456789abcdef"), { streamId: "a", expires: NOW + 60, viewer: null });
    expect(await verifyPlaybackToken(await importPlaybackKey(derived), raw, { streamId: "a", nowS: NOW })).toEqual({ ok: false, reason: "signature" });
  });

  it("will not sign malformed claims", async () => {
    const k = await key();
    await expect(signPlaybackToken(k, { streamId: "Bad Id", expires: NOW, viewer: null })).rejects.toThrow("invalid stream id");
    await expect(signPlaybackToken(k, { streamId: "a", expires: 1.5, viewer: null })).rejects.toThrow("invalid expiry");
    await expect(signPlaybackToken(k, { streamId: "a", expires: NOW, viewer: "has space" })).rejects.toThrow("invalid viewer id");
  });
});
