/**
 * Server side of the RTMP handshake (C0/C1 → S0/S1/S2, then C2).
 *
 * Two flavours exist in the wild. The "simple" one from the published spec just echoes C1 back as
 * S2. Flash Player 9+ clients (and librtmp/OBS, ffmpeg's native client) use an undocumented
 * "complex" one: C1 carries an HMAC-SHA256 digest keyed with the Genuine FP key at one of two
 * offsets ("schemes"), and the client verifies that S1 carries a digest keyed with the Genuine FMS
 * key and that S2 ends with a signature derived from its own digest. A server that only speaks the
 * simple flavour works with some clients and fails with others depending on how strict they are,
 * so we answer in whichever flavour the client used. node-media-server's rtmp_handshake.js and
 * nginx-rtmp's ngx_rtmp_handshake.c are the reference designs this follows.
 */
import { createHmac, randomBytes } from "node:crypto";

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;
const DIGEST_SIZE = 32;

/** "Genuine Adobe Flash Player 001": clients key their C1 digest with this. */
export const GENUINE_FP_KEY = Buffer.from("Genuine Adobe Flash Player 001", "ascii");

/** "Genuine Adobe Flash Media Server 001" followed by 32 fixed bytes; S1 uses the first 36. */
export const GENUINE_FMS_KEY = Buffer.concat([
  Buffer.from("Genuine Adobe Flash Media Server 001", "ascii"),
  Buffer.from([
    0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d,
    0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
  ]),
]);
const GENUINE_FMS_KEY_SHORT = GENUINE_FMS_KEY.subarray(0, 36);

/**
 * Version we advertise in S1 bytes 4..7 (the value nginx-rtmp uses). It must be non-zero for
 * librtmp and have a first byte >= 3 for ffmpeg, otherwise those clients silently skip verifying
 * our digest, and the complex path would go untested against real clients.
 */
const SERVER_VERSION = Buffer.from([0x0d, 0x0e, 0x0a, 0x0d]);

/** Scheme 0: digest offset derived from bytes 8..11; scheme 1: from bytes 772..775. */
export type DigestScheme = 0 | 1;

export const hmacSha256 = (key: Buffer, ...data: Buffer[]): Buffer => {
  const hmac = createHmac("sha256", key);
  for (const part of data) hmac.update(part);
  return hmac.digest();
};

/** Where the 32-byte digest sits in a 1536-byte C1/S1 for the given scheme. */
export const digestOffset = (block: Buffer, scheme: DigestScheme): number => {
  const base = scheme === 0 ? 8 : 772;
  const sum = (block[base] ?? 0) + (block[base + 1] ?? 0) + (block[base + 2] ?? 0) + (block[base + 3] ?? 0);
  return (sum % 728) + base + 4;
};

/** HMAC over the block with the digest bytes left out, which is what the digest itself covers. */
const blockDigest = (block: Buffer, offset: number, key: Buffer): Buffer =>
  hmacSha256(key, block.subarray(0, offset), block.subarray(offset + DIGEST_SIZE, HANDSHAKE_SIZE));

/** Returns the scheme whose digest in C1 validates with the Genuine FP key, or null (simple client). */
export const detectClientScheme = (c1: Buffer): DigestScheme | null => {
  if (c1.length < HANDSHAKE_SIZE) return null;
  // Version zero means a spec-only client; its "digest" positions are just random bytes.
  if (c1.readUInt32BE(4) === 0) return null;
  for (const scheme of [0, 1] as const) {
    const offset = digestOffset(c1, scheme);
    const expected = blockDigest(c1, offset, GENUINE_FP_KEY);
    if (expected.equals(c1.subarray(offset, offset + DIGEST_SIZE))) return scheme;
  }
  return null;
};

const nowMs32 = (): number => Date.now() >>> 0;

/** Builds S1 (1536 bytes): time, our version, random fill, and for complex clients a digest. */
export const createS1 = (scheme: DigestScheme | null): Buffer => {
  const s1 = randomBytes(HANDSHAKE_SIZE);
  s1.writeUInt32BE(nowMs32(), 0);
  if (scheme === null) {
    s1.writeUInt32BE(0, 4);
    return s1;
  }
  SERVER_VERSION.copy(s1, 4);
  const offset = digestOffset(s1, scheme);
  blockDigest(s1, offset, GENUINE_FMS_KEY_SHORT).copy(s1, offset);
  return s1;
};

/** Builds S2: an echo of C1 for simple clients, otherwise random bytes signed from the client digest. */
export const createS2 = (c1: Buffer, scheme: DigestScheme | null): Buffer => {
  if (scheme === null) return Buffer.from(c1.subarray(0, HANDSHAKE_SIZE));
  const s2 = randomBytes(HANDSHAKE_SIZE);
  const offset = digestOffset(c1, scheme);
  const clientDigest = c1.subarray(offset, offset + DIGEST_SIZE);
  const key = hmacSha256(GENUINE_FMS_KEY, clientDigest);
  hmacSha256(key, s2.subarray(0, HANDSHAKE_SIZE - DIGEST_SIZE)).copy(s2, HANDSHAKE_SIZE - DIGEST_SIZE);
  return s2;
};

export class HandshakeError extends Error {
  override readonly name = "HandshakeError";
}

export type HandshakeStep =
  /** Need more bytes. */
  | { kind: "pending" }
  /** C0+C1 are in: send this (S0+S1+S2). */
  | { kind: "reply"; data: Buffer; scheme: DigestScheme | null }
  /** C2 is in: handshake over; `rest` already belongs to the chunk stream. */
  | { kind: "done"; rest: Buffer };

/**
 * Incremental server handshake. Feed it socket data; it tells the caller what to send and when
 * the chunk stream starts. Clients routinely pipeline C2 and the first chunks (ffmpeg sends
 * `connect` right behind C2), so the bytes after C2 are handed back rather than dropped.
 */
export class ServerHandshake {
  private buffered: Buffer = Buffer.alloc(0);
  private state: "c0c1" | "c2" | "done" = "c0c1";

  /** Feeds bytes and returns every step they complete, in order. */
  push(data: Buffer): HandshakeStep[] {
    if (this.state === "done") throw new HandshakeError("handshake already complete");
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    const steps: HandshakeStep[] = [];
    if (this.state === "c0c1") {
      if (this.buffered.length >= 1 && this.buffered[0] !== RTMP_VERSION) {
        // 6 is RTMPE (encrypted), anything else is not RTMP at all; neither is worth serving.
        throw new HandshakeError(`unsupported RTMP version byte ${this.buffered[0]}`);
      }
      if (this.buffered.length < 1 + HANDSHAKE_SIZE) return [{ kind: "pending" }];
      const c1 = Buffer.from(this.buffered.subarray(1, 1 + HANDSHAKE_SIZE));
      this.buffered = this.buffered.subarray(1 + HANDSHAKE_SIZE);
      const scheme = detectClientScheme(c1);
      const data = Buffer.concat([Buffer.from([RTMP_VERSION]), createS1(scheme), createS2(c1, scheme)]);
      steps.push({ kind: "reply", data, scheme });
      this.state = "c2";
    }
    if (this.state === "c2") {
      // C2's content is not checked: clients differ in what they put there and nothing depends on it.
      if (this.buffered.length < HANDSHAKE_SIZE) {
        if (steps.length === 0) steps.push({ kind: "pending" });
        return steps;
      }
      const rest = Buffer.from(this.buffered.subarray(HANDSHAKE_SIZE));
      this.buffered = Buffer.alloc(0);
      this.state = "done";
      steps.push({ kind: "done", rest });
    }
    return steps;
  }

  get done(): boolean {
    return this.state === "done";
  }
}
