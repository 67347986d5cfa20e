/**
 * Opaque keyset cursors: the last row's sort key, as base64url JSON tagged with what it pages
 * through. Clients pass `next_cursor` back unchanged; anything else is a 400.
 */
const encode = (text: string): string => btoa(String.fromCharCode(...new TextEncoder().encode(text))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const decode = (text: string): string | null => {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
  } catch {
    return null;
  }
};

export type CursorValue = string | number;

export const encodeCursor = (kind: string, key: CursorValue[]): string => encode(JSON.stringify({ k: kind, v: key }));

/** The sort key inside a cursor of `kind` whose values have the given types, or null when it is not one. */
export const decodeCursor = (text: string, kind: string, types: ReadonlyArray<"string" | "number">): CursorValue[] | null => {
  const json = decode(text);
  if (json === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const { k, v } = parsed as { k?: unknown; v?: unknown };
  if (k !== kind || !Array.isArray(v) || v.length !== types.length) return null;
  for (const [i, t] of types.entries()) {
    const value: unknown = v[i];
    if (t === "number" ? typeof value !== "number" || !Number.isFinite(value) : typeof value !== "string") return null;
  }
  return v as CursorValue[];
};
