import { describe, expect, it } from "vitest";
import {
  Amf0EcmaArray,
  Amf0Error,
  decodeAmf0,
  decodeAmf0Values,
  encodeAmf0,
  encodeAmf0Values,
  type Amf0Value,
} from "./amf0.ts";

const roundTrip = (value: Amf0Value): Amf0Value => {
  const encoded = encodeAmf0(value);
  const decoded = decodeAmf0(encoded);
  expect(decoded.offset).toBe(encoded.length);
  return decoded.value;
};

describe("amf0", () => {
  it("round-trips scalars", () => {
    for (const value of [0, -1.5, 2 ** 53, Number.MAX_VALUE, true, false, "", "héllo ✓", null, undefined]) {
      expect(roundTrip(value)).toEqual(value);
    }
    expect(Number.isNaN(roundTrip(Number.NaN))).toBe(true);
  });

  it("encodes numbers, strings and booleans with the documented layout", () => {
    expect(encodeAmf0(1)).toEqual(Buffer.from([0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]));
    expect(encodeAmf0("ab")).toEqual(Buffer.from([0x02, 0x00, 0x02, 0x61, 0x62]));
    expect(encodeAmf0(true)).toEqual(Buffer.from([0x01, 0x01]));
    expect(encodeAmf0(null)).toEqual(Buffer.from([0x05]));
    expect(encodeAmf0(undefined)).toEqual(Buffer.from([0x06]));
  });

  it("switches to a long string past 65535 bytes", () => {
    const long = "x".repeat(70_000);
    const encoded = encodeAmf0(long);
    expect(encoded[0]).toBe(0x0c);
    expect(encoded.readUInt32BE(1)).toBe(70_000);
    expect(roundTrip(long)).toBe(long);
    expect(encodeAmf0("y".repeat(0xffff))[0]).toBe(0x02);
  });

  it("round-trips nested objects and strict arrays", () => {
    const value = {
      app: "live",
      nested: { list: [1, "two", null, { deep: true }], empty: {} },
      n: 42,
    };
    expect(roundTrip(value)).toEqual(value);
    const encoded = encodeAmf0({ a: 1 });
    expect(encoded.subarray(-3)).toEqual(Buffer.from([0, 0, 0x09])); // object end marker
  });

  it("writes ECMA arrays and reads them back as plain objects", () => {
    const encoded = encodeAmf0(new Amf0EcmaArray({ width: 320, height: 180 }));
    expect(encoded[0]).toBe(0x08);
    expect(encoded.readUInt32BE(1)).toBe(2);
    expect(decodeAmf0(encoded).value).toEqual({ width: 320, height: 180 });
  });

  it("decodes dates and round-trips them", () => {
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const encoded = encodeAmf0(date);
    expect(encoded[0]).toBe(0x0b);
    expect(encoded.length).toBe(11);
    const decoded = decodeAmf0(encoded).value;
    expect(decoded).toBeInstanceOf(Date);
    expect((decoded as Date).getTime()).toBe(date.getTime());
  });

  it("decodes typed objects, unsupported markers and object end after a non-empty key", () => {
    const typed = Buffer.concat([Buffer.from([0x10, 0x00, 0x01, 0x43]), encodeAmf0({ a: 1 }).subarray(1)]);
    expect(decodeAmf0(typed).value).toEqual({ a: 1 });
    expect(decodeAmf0(Buffer.from([0x0d])).value).toBeUndefined();
    // ECMA array terminated by a key-less end marker written after a real key (seen from old encoders)
    const sloppy = Buffer.from([0x08, 0, 0, 0, 1, 0x00, 0x01, 0x61, 0x09]);
    expect(decodeAmf0(sloppy).value).toEqual({});
  });

  it("round-trips a command sequence", () => {
    const values: Amf0Value[] = ["connect", 1, { app: "live", objectEncoding: 0 }, null, "extra"];
    expect(decodeAmf0Values(encodeAmf0Values(values))).toEqual(values);
  });

  it("keeps a __proto__ key as data", () => {
    const encoded = Buffer.concat([
      Buffer.from([0x03]),
      Buffer.from([0x00, 0x09]),
      Buffer.from("__proto__"),
      encodeAmf0({ polluted: true }),
      Buffer.from([0, 0, 0x09]),
    ]);
    const decoded = decodeAmf0(encoded).value as Record<string, unknown>;
    expect(Object.keys(decoded)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((decoded as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("rejects truncated, unsupported and hostile input with Amf0Error", () => {
    const full = encodeAmf0({ key: "value", n: 1 });
    for (let cut = 0; cut < full.length; cut++) {
      expect(() => decodeAmf0(full.subarray(0, cut))).toThrow(Amf0Error);
    }
    expect(() => decodeAmf0(Buffer.from([0x07, 0, 1]))).toThrow(Amf0Error); // reference
    expect(() => decodeAmf0(Buffer.from([0x11]))).toThrow(Amf0Error); // AMF3 switch
    expect(() => decodeAmf0(Buffer.from([0x09]))).toThrow(Amf0Error);
    expect(() => decodeAmf0(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x05]))).toThrow(Amf0Error);
    const deepArrays = Buffer.concat([...Array.from({ length: 200 }, () => Buffer.from([0x0a, 0, 0, 0, 1])), Buffer.from([0x05])]);
    expect(() => decodeAmf0(deepArrays)).toThrow(/nested too deeply/);
    const deepObjects = Buffer.concat(Array.from({ length: 200 }, () => Buffer.from([0x03, 0x00, 0x01, 0x61])));
    expect(() => decodeAmf0(deepObjects)).toThrow(/nested too deeply/);
  });
});
