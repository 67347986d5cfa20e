/**
 * AMF0, the serialisation RTMP commands and FLV script tags use.
 *
 * Everything here is pure and Buffer based so the chunk layer and the FLV helpers can share it
 * and so it can be tested without sockets. Input comes from untrusted publishers: every read is
 * bounds-checked and nesting is capped, so garbage surfaces as an `Amf0Error`, never as a
 * RangeError from deep inside Buffer or a blown stack.
 */

export const AMF0_MARKER = {
  number: 0x00,
  boolean: 0x01,
  string: 0x02,
  object: 0x03,
  movieclip: 0x04,
  null: 0x05,
  undefined: 0x06,
  reference: 0x07,
  ecmaArray: 0x08,
  objectEnd: 0x09,
  strictArray: 0x0a,
  date: 0x0b,
  longString: 0x0c,
  unsupported: 0x0d,
  recordset: 0x0e,
  xmlDocument: 0x0f,
  typedObject: 0x10,
  avmplusObject: 0x11,
} as const;

export type Amf0Object = { [key: string]: Amf0Value };
export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0Value[]
  | Amf0Object
  | Amf0EcmaArray;

/**
 * Marks an object to be written as an ECMA array (what `onMetaData` uses) rather than an
 * anonymous object. Decoding turns ECMA arrays into plain objects, because readers only ever
 * look properties up by name and should not care which of the two a given encoder picked.
 */
export class Amf0EcmaArray {
  constructor(readonly entries: Amf0Object) {}
}

export class Amf0Error extends Error {
  override readonly name = "Amf0Error";
}

/** Deep enough for any real command or metadata; shallow enough that hostile nesting cannot hurt. */
const MAX_DEPTH = 64;
/** Upper bound for declared counts, so a forged count cannot make us loop for ages on tiny input. */
const MAX_ENTRIES = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Encoding

const encodeUtf8 = (value: string, long: boolean): Buffer => {
  const body = Buffer.from(value, "utf8");
  const header = Buffer.alloc(long ? 4 : 2);
  if (long) header.writeUInt32BE(body.length, 0);
  else header.writeUInt16BE(body.length, 0);
  return Buffer.concat([header, body]);
};

/** Property names have no type marker and are always short strings. */
const encodeKey = (key: string): Buffer => {
  const body = Buffer.from(key, "utf8");
  if (body.length > 0xffff) throw new Amf0Error("AMF0 property name longer than 65535 bytes");
  return encodeUtf8(key, false);
};

const OBJECT_END = Buffer.from([0x00, 0x00, AMF0_MARKER.objectEnd]);

const encodeProperties = (object: Amf0Object, depth: number): Buffer[] => {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(object)) {
    parts.push(encodeKey(key), encodeValue(value, depth + 1));
  }
  parts.push(OBJECT_END);
  return parts;
};

const encodeValue = (value: Amf0Value, depth: number): Buffer => {
  if (depth > MAX_DEPTH) throw new Amf0Error("AMF0 value nested too deeply");
  if (value === null) return Buffer.from([AMF0_MARKER.null]);
  if (value === undefined) return Buffer.from([AMF0_MARKER.undefined]);
  if (typeof value === "number") {
    const out = Buffer.alloc(9);
    out[0] = AMF0_MARKER.number;
    out.writeDoubleBE(value, 1);
    return out;
  }
  if (typeof value === "boolean") return Buffer.from([AMF0_MARKER.boolean, value ? 1 : 0]);
  if (typeof value === "string") {
    // The short form only has 16 bits of length; anything longer must switch marker.
    const long = Buffer.byteLength(value, "utf8") > 0xffff;
    return Buffer.concat([
      Buffer.from([long ? AMF0_MARKER.longString : AMF0_MARKER.string]),
      encodeUtf8(value, long),
    ]);
  }
  if (value instanceof Date) {
    const out = Buffer.alloc(11);
    out[0] = AMF0_MARKER.date;
    out.writeDoubleBE(value.getTime(), 1);
    out.writeInt16BE(0, 9); // time zone: reserved, senders write 0 and readers must ignore it
    return out;
  }
  if (Array.isArray(value)) {
    const header = Buffer.alloc(5);
    header[0] = AMF0_MARKER.strictArray;
    header.writeUInt32BE(value.length, 1);
    return Buffer.concat([header, ...value.map((item) => encodeValue(item, depth + 1))]);
  }
  if (value instanceof Amf0EcmaArray) {
    const header = Buffer.alloc(5);
    header[0] = AMF0_MARKER.ecmaArray;
    // The count is only a hint for readers; we always terminate with an object end marker.
    header.writeUInt32BE(Object.keys(value.entries).length, 1);
    return Buffer.concat([header, ...encodeProperties(value.entries, depth)]);
  }
  return Buffer.concat([Buffer.from([AMF0_MARKER.object]), ...encodeProperties(value, depth)]);
};

/** Encodes one value. */
export const encodeAmf0 = (value: Amf0Value): Buffer => encodeValue(value, 0);

/** Encodes a sequence of values back to back, the shape of an RTMP command or data message. */
export const encodeAmf0Values = (values: readonly Amf0Value[]): Buffer =>
  Buffer.concat(values.map((value) => encodeValue(value, 0)));

// ---------------------------------------------------------------------------------------------
// Decoding

export interface Amf0Decoded {
  value: Amf0Value;
  /** Offset just past the decoded value, so callers can slice what follows (e.g. `@setDataFrame`). */
  offset: number;
}

const need = (buf: Buffer, offset: number, length: number): void => {
  if (offset + length > buf.length) throw new Amf0Error("AMF0 value truncated");
};

const readUtf8 = (buf: Buffer, offset: number, long: boolean): { value: string; offset: number } => {
  const lengthSize = long ? 4 : 2;
  need(buf, offset, lengthSize);
  const length = long ? buf.readUInt32BE(offset) : buf.readUInt16BE(offset);
  const start = offset + lengthSize;
  need(buf, start, length);
  return { value: buf.toString("utf8", start, start + length), offset: start + length };
};

/** defineProperty rather than assignment so a `__proto__` key from the wire stays a plain key. */
const setProperty = (target: Amf0Object, key: string, value: Amf0Value): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
};

/** Reads `name, value` pairs up to the object end marker (shared by objects, ECMA and typed objects). */
const readProperties = (buf: Buffer, start: number, depth: number): Amf0Decoded => {
  const object: Amf0Object = {};
  let offset = start;
  for (let count = 0; ; count++) {
    if (count > MAX_ENTRIES) throw new Amf0Error("AMF0 object has too many properties");
    const key = readUtf8(buf, offset, false);
    offset = key.offset;
    need(buf, offset, 1);
    if (buf[offset] === AMF0_MARKER.objectEnd) {
      // Strictly the end marker follows an empty key; some encoders emit it after a non-empty key
      // for ECMA arrays, and there is nothing sensible to do with that key but stop.
      return { value: object, offset: offset + 1 };
    }
    const item = decodeValue(buf, offset, depth + 1);
    setProperty(object, key.value, item.value);
    offset = item.offset;
  }
};

const decodeValue = (buf: Buffer, offset: number, depth: number): Amf0Decoded => {
  if (depth > MAX_DEPTH) throw new Amf0Error("AMF0 value nested too deeply");
  need(buf, offset, 1);
  const marker = buf[offset] as number;
  const at = offset + 1;
  switch (marker) {
    case AMF0_MARKER.number:
      need(buf, at, 8);
      return { value: buf.readDoubleBE(at), offset: at + 8 };
    case AMF0_MARKER.boolean:
      need(buf, at, 1);
      return { value: buf[at] !== 0, offset: at + 1 };
    case AMF0_MARKER.string:
      return readUtf8(buf, at, false);
    case AMF0_MARKER.longString:
    case AMF0_MARKER.xmlDocument:
      return readUtf8(buf, at, true);
    case AMF0_MARKER.object:
      return readProperties(buf, at, depth);
    case AMF0_MARKER.typedObject: {
      // The class name is meaningless to us; keep the properties.
      const className = readUtf8(buf, at, false);
      return readProperties(buf, className.offset, depth);
    }
    case AMF0_MARKER.ecmaArray:
      need(buf, at, 4);
      return readProperties(buf, at + 4, depth);
    case AMF0_MARKER.strictArray: {
      need(buf, at, 4);
      const count = buf.readUInt32BE(at);
      // Each element takes at least one byte, so a count beyond the bytes left is a lie.
      if (count > MAX_ENTRIES || count > buf.length - at - 4) throw new Amf0Error("AMF0 strict array count too large");
      const items: Amf0Value[] = [];
      let next = at + 4;
      for (let i = 0; i < count; i++) {
        const item = decodeValue(buf, next, depth + 1);
        items.push(item.value);
        next = item.offset;
      }
      return { value: items, offset: next };
    }
    case AMF0_MARKER.date:
      need(buf, at, 10);
      return { value: new Date(buf.readDoubleBE(at)), offset: at + 10 };
    case AMF0_MARKER.null:
      return { value: null, offset: at };
    case AMF0_MARKER.undefined:
    case AMF0_MARKER.unsupported:
      return { value: undefined, offset: at };
    case AMF0_MARKER.objectEnd:
      throw new Amf0Error("unexpected AMF0 object end marker");
    default:
      // References, movie clips, record sets and AMF3 switches never appear in what publishers send.
      throw new Amf0Error(`unsupported AMF0 marker 0x${marker.toString(16).padStart(2, "0")}`);
  }
};

/** Decodes one value at `offset`. Throws `Amf0Error` on malformed or truncated input. */
export const decodeAmf0 = (buf: Buffer, offset = 0): Amf0Decoded => decodeValue(buf, offset, 0);

/** Decodes values back to back until the buffer is exhausted. */
export const decodeAmf0Values = (buf: Buffer, offset = 0): Amf0Value[] => {
  const values: Amf0Value[] = [];
  let next = offset;
  while (next < buf.length) {
    const item = decodeValue(buf, next, 0);
    values.push(item.value);
    next = item.offset;
  }
  return values;
};

/** Narrowing helper for the "object" shapes (anonymous object or decoded ECMA array). */
export const isAmf0Object = (value: Amf0Value): value is Amf0Object =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Amf0EcmaArray);
