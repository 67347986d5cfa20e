/**
 * Tiny but valid fMP4 boxes built by hand (Web-standard APIs only, so the workerd tests use them
 * too): enough structure for the parsers and validators, no ffmpeg needed.
 */
import { concatBytes } from "../../shared/bytes.ts";

export const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

/** Builds a box with a 32-bit size from a 4cc and payload parts. */
export const box = (type: string, ...payload: Uint8Array[]): Uint8Array => {
  const body = concat(...payload);
  return concat(u32(8 + body.length), new TextEncoder().encode(type), body);
};

/** Builds a full box: version and 24-bit flags, then the payload. */
export const fullBox = (type: string, version: number, flags: number, ...payload: Uint8Array[]): Uint8Array =>
  box(type, new Uint8Array([version, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff]), ...payload);

/** Big-endian fields: `be(4, x)` is a u32, `be(8, x)` a u64. */
export const be = (bytes: 1 | 2 | 3 | 4 | 8, value: number): Uint8Array => {
  const b = new Uint8Array(bytes);
  let v = BigInt(value) & ((1n << BigInt(bytes * 8)) - 1n);
  for (let i = bytes - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
};

/** Offsets of top-level boxes of a type, for slicing fixtures into pieces. */
export const topLevel = (bytes: Uint8Array): { type: string; start: number; end: number }[] => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { type: string; start: number; end: number }[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    out.push({ type, start: at, end: at + size });
    if (size < 8) break;
    at += size;
  }
  return out;
};

/** A minimal CMAF init segment: ftyp + moov(mvhd, trak(tkhd, mdia(mdhd, hdlr, minf/stbl/stsd)), mvex/trex). */
export const initSegment = (label = "init"): Uint8Array =>
  concat(
    box("ftyp", new TextEncoder().encode("iso6"), be(4, 0), new TextEncoder().encode("iso6cmfc")),
    box(
      "moov",
      fullBox("mvhd", 0, 0, be(4, 0), be(4, 0), be(4, 1000), be(4, 0), new Uint8Array(80)),
      box(
        "trak",
        fullBox("tkhd", 0, 3, be(4, 0), be(4, 0), be(4, 1), new Uint8Array(72)),
        box(
          "mdia",
          fullBox("mdhd", 0, 0, be(4, 0), be(4, 0), be(4, 90_000), be(4, 0), be(2, 0x55c4), be(2, 0)),
          fullBox("hdlr", 0, 0, be(4, 0), new TextEncoder().encode("vide"), new Uint8Array(12), new TextEncoder().encode(`${label}\0`)),
          box("minf", box("stbl", fullBox("stsd", 0, 0, be(4, 0)))),
        ),
      ),
      box("mvex", fullBox("trex", 0, 0, be(4, 1), be(4, 1), be(4, 0), be(4, 0), be(4, 0))),
    ),
  );

/** A minimal CMAF chunk: moof(mfhd, traf(tfhd, tfdt, trun)) + mdat whose payload starts with `label`. */
export const fragment = (label: string, size = 256): Uint8Array => {
  const payload = new Uint8Array(Math.max(size, label.length));
  payload.set(new TextEncoder().encode(label));
  for (let i = label.length; i < payload.length; i++) payload[i] = (i * 31 + label.length) & 0xff;
  return concat(
    box(
      "moof",
      fullBox("mfhd", 0, 0, be(4, 1)),
      box("traf", fullBox("tfhd", 0, 0x020000, be(4, 1)), fullBox("tfdt", 1, 0, be(8, 0)), fullBox("trun", 0, 0, be(4, 0))),
    ),
    box("mdat", payload),
  );
};
