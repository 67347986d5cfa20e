/**
 * Webhook signatures: `Cascade-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
 * The timestamp is signed with the body, so a captured delivery cannot be replayed once it is older
 * than the receiver's tolerance. A header may carry several `v1=` values (secret rotation).
 */
export const SIGNATURE_HEADER = "Cascade-Signature";

/** Receivers accept signatures up to this old (and this far in the future), in seconds. */
export const DEFAULT_TOLERANCE_S = 300;

const encoder = new TextEncoder();

const hmacHex = async (secret: string, message: string): Promise<string> => {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
};

/** Equal strings in time independent of where they differ (lengths are public: hex of one hash). */
const constantTimeEqual = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
};

/** The header value for `body` signed with `secret` at `timestampS` (unix seconds). */
export const signPayload = async (secret: string, body: string, timestampS: number): Promise<string> =>
  `t=${timestampS},v1=${await hmacHex(secret, `${timestampS}.${body}`)}`;

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: "malformed" | "too_old" | "in_future" | "mismatch" };

/**
 * Checks a `Cascade-Signature` header against the raw body, as a receiver does.
 * @param options.toleranceS seconds a signature stays valid (default 300)
 * @param options.nowS the current unix time (default: the clock)
 * @example
 *   const r = await verifySignature(secret, req.headers.get("cascade-signature"), await req.text());
 *   if (!r.ok) return new Response(r.reason, { status: 400 });
 */
export const verifySignature = async (
  secret: string,
  header: string | null | undefined,
  body: string,
  options: { toleranceS?: number; nowS?: number } = {},
): Promise<VerifyResult> => {
  if (!header) return { ok: false, reason: "malformed" };
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return { ok: false, reason: "malformed" };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (!/^[0-9]{1,12}$/.test(value) || timestamp !== null) return { ok: false, reason: "malformed" };
      timestamp = Number(value);
    } else if (key === "v1") {
      if (!/^[0-9a-f]{64}$/.test(value)) return { ok: false, reason: "malformed" };
      signatures.push(value);
    }
  }
  if (timestamp === null || signatures.length === 0) return { ok: false, reason: "malformed" };
  const tolerance = options.toleranceS ?? DEFAULT_TOLERANCE_S;
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  if (timestamp < now - tolerance) return { ok: false, reason: "too_old" };
  if (timestamp > now + tolerance) return { ok: false, reason: "in_future" };
  const expected = await hmacHex(secret, `${timestamp}.${body}`);
  let match = false;
  for (const s of signatures) if (constantTimeEqual(s, expected)) match = true;
  return match ? { ok: true, timestamp } : { ok: false, reason: "mismatch" };
};
