import { constants, crc32, deflateRawSync } from "node:zlib";

/**
 * A gzip member assembled from separately compressed pieces, so that the unchanging bulk of a long
 * playlist is compressed once and reused. Each piece but the last is raw DEFLATE ending in a sync
 * flush (byte-aligned, not final, no back-references into other pieces); the last one is finished.
 * Their concatenation is one valid DEFLATE stream (RFC 1951); the gzip trailer's CRC-32 is
 * combined from the pieces' CRCs (zlib's crc32_combine), so no piece is read twice.
 */
export interface DeflatedPiece {
  deflated: Uint8Array;
  crc: number;
  /** Uncompressed length in bytes. */
  bytes: number;
}

const LEVEL = 6;

/** Compresses a piece that others will follow (sync flush). */
export const deflatePiece = (text: string): DeflatedPiece => {
  const raw = Buffer.from(text, "utf8");
  return { deflated: new Uint8Array(deflateRawSync(raw, { level: LEVEL, finishFlush: constants.Z_SYNC_FLUSH })), crc: crc32(raw), bytes: raw.byteLength };
};

/** Compresses the last piece (final block). */
export const deflateLastPiece = (text: string): DeflatedPiece => {
  const raw = Buffer.from(text, "utf8");
  return { deflated: new Uint8Array(deflateRawSync(raw, { level: LEVEL })), crc: crc32(raw), bytes: raw.byteLength };
};

// CRC-32 combination (zlib's crc32_combine): multiply by x^(8·len) modulo the CRC polynomial.
const POLY = 0xedb88320;

/** a(x) · b(x) modulo p(x), reflected bit order. */
const multModP = (a: number, b: number): number => {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
};

/** X2N[k] = x^(2^k) mod p(x). */
const X2N = (() => {
  const table = new Array<number>(32);
  let p = 0x40000000; // x^1
  table[0] = p;
  for (let k = 1; k < 32; k++) table[k] = p = multModP(p, p);
  return table;
})();

/** x^(n · 2^k) mod p(x). */
const x2nModP = (n: number, k: number): number => {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
};

/** CRC-32 of A‖B from crc(A), crc(B) and B's length. */
export const crc32Combine = (crcA: number, crcB: number, lengthB: number): number => (multModP(x2nModP(lengthB, 3), crcA) ^ crcB) >>> 0;

/** One gzip member from pieces; the last must come from `deflateLastPiece`. */
export const gzipFromPieces = (pieces: DeflatedPiece[]): Uint8Array => {
  let size = 18;
  let crc = 0;
  let bytes = 0;
  for (const p of pieces) {
    size += p.deflated.byteLength;
    crc = crc32Combine(crc, p.crc, p.bytes);
    bytes += p.bytes;
  }
  const out = new Uint8Array(size);
  // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=unknown (what zlib writes for gzipSync, OS aside).
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  let off = 10;
  for (const p of pieces) {
    out.set(p.deflated, off);
    off += p.deflated.byteLength;
  }
  const view = new DataView(out.buffer);
  view.setUint32(off, crc, true);
  view.setUint32(off + 4, bytes % 0x100000000, true);
  return out;
};
