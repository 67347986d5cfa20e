import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HandshakeError, ServerHandshake, type HandshakeStep } from "./handshake.ts";

// The client side is re-implemented here from the published descriptions (librtmp handshake.h,
// ffmpeg rtmpproto.c) rather than imported, so a shared mistake cannot make the test pass.
const FP_KEY = Buffer.from("Genuine Adobe Flash Player 001");
const FMS_KEY = Buffer.concat([
  Buffer.from("Genuine Adobe Flash Media Server 001"),
  Buffer.from("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae", "hex"),
]);
const hmac = (key: Buffer, data: Buffer): Buffer => createHmac("sha256", key).update(data).digest();
const offsetOf = (block: Buffer, scheme: 0 | 1): number => {
  const base = scheme === 0 ? 8 : 772;
  return ((block[base]! + block[base + 1]! + block[base + 2]! + block[base + 3]!) % 728) + base + 4;
};
const withoutDigest = (block: Buffer, at: number): Buffer => Buffer.concat([block.subarray(0, at), block.subarray(at + 32)]);

const complexC1 = (scheme: 0 | 1): { c1: Buffer; digest: Buffer } => {
  const c1 = randomBytes(1536);
  c1.writeUInt32BE(0, 0);
  Buffer.from([9, 0, 124, 2]).copy(c1, 4); // ffmpeg's client version
  const at = offsetOf(c1, scheme);
  const digest = hmac(FP_KEY, withoutDigest(c1, at));
  digest.copy(c1, at);
  return { c1, digest };
};

const reply = (steps: HandshakeStep[]): Buffer => {
  const step = steps.find((s) => s.kind === "reply");
  if (!step || step.kind !== "reply") throw new Error("no reply");
  return step.data;
};

describe("server handshake", () => {
  it("answers a simple (version 0) C1 with S2 echoing C1", () => {
    const c1 = randomBytes(1536);
    c1.writeUInt32BE(0, 4);
    const handshake = new ServerHandshake();
    const steps = handshake.push(Buffer.concat([Buffer.from([3]), c1]));
    expect(steps).toHaveLength(1);
    const out = reply(steps);
    expect(out.length).toBe(1 + 1536 * 2);
    expect(out[0]).toBe(3);
    expect(out.subarray(1 + 1536)).toEqual(c1);
    expect(out.readUInt32BE(1 + 4)).toBe(0); // S1 advertises no version to simple clients
  });

  it("falls back to simple when C1 has a version but no valid digest", () => {
    const c1 = randomBytes(1536);
    Buffer.from([9, 0, 124, 2]).copy(c1, 4);
    const steps = new ServerHandshake().push(Buffer.concat([Buffer.from([3]), c1]));
    expect(steps[0]).toMatchObject({ kind: "reply", scheme: null });
    expect(reply(steps).subarray(1 + 1536)).toEqual(c1);
  });

  for (const scheme of [0, 1] as const) {
    it(`answers a complex C1 (digest scheme ${scheme}) with a genuine S1 digest and S2 signature`, () => {
      const { c1, digest } = complexC1(scheme);
      const steps = new ServerHandshake().push(Buffer.concat([Buffer.from([3]), c1]));
      expect(steps[0]).toMatchObject({ kind: "reply", scheme });
      const out = reply(steps);
      const s1 = out.subarray(1, 1 + 1536);
      const s2 = out.subarray(1 + 1536);
      // ffmpeg only verifies when S1's first version byte is >= 3, librtmp when it is non-zero.
      expect(s1[4]).toBeGreaterThanOrEqual(3);
      // S1 digest at the same scheme, keyed with the first 36 bytes of the FMS key
      const at = offsetOf(s1, scheme);
      expect(s1.subarray(at, at + 32)).toEqual(hmac(FMS_KEY.subarray(0, 36), withoutDigest(s1, at)));
      // S2's last 32 bytes: HMAC(HMAC(FMS key, client digest), S2[0..1504])
      const signatureKey = hmac(FMS_KEY, digest);
      expect(s2.subarray(1504)).toEqual(hmac(signatureKey, s2.subarray(0, 1504)));
    });
  }

  it("works with input split at any point and returns bytes pipelined after C2", () => {
    const c1 = randomBytes(1536);
    c1.writeUInt32BE(0, 4);
    const c2 = randomBytes(1536);
    const after = Buffer.from("first chunk bytes");
    const all = Buffer.concat([Buffer.from([3]), c1, c2, after]);
    for (const split of [1, 7, 1537, 1538, 3072, 3073, 3074]) {
      const handshake = new ServerHandshake();
      const steps = handshake.push(all.subarray(0, split));
      if (!handshake.done) steps.push(...handshake.push(all.subarray(split)));
      const kinds = steps.filter((s) => s.kind !== "pending").map((s) => s.kind);
      expect(kinds).toEqual(["reply", "done"]);
      const done = steps.find((s) => s.kind === "done");
      // Whatever the handshake did not consume goes to the chunk parser, in order.
      const unread = split >= 3073 ? all.subarray(split) : Buffer.alloc(0);
      expect(done?.kind === "done" && Buffer.concat([done.rest, unread])).toEqual(after);
      expect(handshake.done).toBe(true);
    }
  });

  it("rejects anything but version 3 as soon as the first byte arrives", () => {
    expect(() => new ServerHandshake().push(Buffer.from("GET / HTTP/1.1\r\n"))).toThrow(HandshakeError);
    expect(() => new ServerHandshake().push(Buffer.from([6]))).toThrow(/version byte 6/);
  });
});
