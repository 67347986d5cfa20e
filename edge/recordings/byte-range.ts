/**
 * One `Range: bytes=…` request header against an object of `size` bytes (RFC 9110 §14). Several
 * ranges, other units and malformed headers are ignored (the whole object is served, which the RFC
 * allows); a syntactically valid range that selects nothing is unsatisfiable (416).
 */
export type ByteRange = { kind: "none" } | { kind: "range"; start: number; end: number } | { kind: "unsatisfiable" };

const RANGE_RE = /^bytes=(?:([0-9]{1,15})-([0-9]{0,15})|-([0-9]{1,15}))$/;

export const parseByteRange = (header: string | null, size: number): ByteRange => {
  if (header === null) return { kind: "none" };
  const m = RANGE_RE.exec(header.trim());
  if (!m) return { kind: "none" };
  if (m[3] !== undefined) {
    const suffix = Number(m[3]);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === "" ? null : Number(m[2]);
  if (last !== null && last < start) return { kind: "none" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "range", start, end: last === null ? size - 1 : Math.min(last, size - 1) };
};

/** True when `If-None-Match` names `etag` (or `*`); weak comparison, as for GET. */
export const etagMatches = (ifNoneMatch: string | null, etag: string): boolean => {
  if (!ifNoneMatch) return false;
  const bare = etag.replace(/^W\//, "");
  return ifNoneMatch.split(",").some((v) => {
    const t = v.trim();
    return t === "*" || t.replace(/^W\//, "") === bare;
  });
};
