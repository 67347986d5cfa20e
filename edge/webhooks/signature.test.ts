import { describe, expect, it } from "vitest";
import { signPayload, verifySignature } from "./signature.ts";

const secret = "whsec_test_secret";
const body = JSON.stringify({ id: "whd_1", type: "stream_started", data: { stream_id: "abc" } });

describe("Cascade-Signature", () => {
  it("has the documented format and matches an independent HMAC", async () => {
    const header = await signPayload(secret, body, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`1700000000.${body}`)));
    expect(header.split("v1=")[1]).toBe([...mac].map((b) => b.toString(16).padStart(2, "0")).join(""));
  });

  it("verifies a fresh signature and rejects tampering, other secrets, old and future timestamps, garbage", async () => {
    const now = 1_700_000_000;
    const header = await signPayload(secret, body, now);
    expect(await verifySignature(secret, header, body, { nowS: now + 10 })).toEqual({ ok: true, timestamp: now });
    expect(await verifySignature(secret, header, body.replace("abc", "abd"), { nowS: now })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verifySignature("whsec_other", header, body, { nowS: now })).toEqual({ ok: false, reason: "mismatch" });
    // The timestamp is signed: moving it forward to look fresh breaks the signature.
    expect(await verifySignature(secret, header.replace(`t=${now}`, `t=${now + 1000}`), body, { nowS: now + 1000 })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verifySignature(secret, header, body, { nowS: now + 301 })).toEqual({ ok: false, reason: "too_old" });
    expect(await verifySignature(secret, header, body, { nowS: now + 3600, toleranceS: 7200 })).toMatchObject({ ok: true });
    expect(await verifySignature(secret, header, body, { nowS: now - 301 })).toEqual({ ok: false, reason: "in_future" });
    for (const bad of [null, "", "v1=abc", `t=${now}`, `t=x,v1=${"0".repeat(64)}`, `t=${now},v1=zz`, `t=${now},t=${now},v1=${"0".repeat(64)}`, "garbage"]) {
      expect(await verifySignature(secret, bad, body, { nowS: now }), String(bad)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("accepts any of several v1 signatures (secret rotation)", async () => {
    const now = 1_700_000_000;
    const header = await signPayload(secret, body, now);
    const other = (await signPayload("old", body, now)).split(",")[1]!;
    expect(await verifySignature(secret, `${header},${other}`, body, { nowS: now })).toMatchObject({ ok: true });
    expect(await verifySignature(secret, `t=${now},${other}`, body, { nowS: now })).toEqual({ ok: false, reason: "mismatch" });
  });
});
