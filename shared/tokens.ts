/**
 * Node tokens: `<nodeId>.<base64url(HMAC-SHA256(secret, "node:" + nodeId))>`.
 * WebCrypto only, so the same code verifies in a Worker and in Node.
 */

const encoder = new TextEncoder();

const toBase64Url = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const fromBase64Url = (text: string): Uint8Array<ArrayBuffer> | null => {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
};

const hmacKey = (secret: string, usage: "sign" | "verify"): Promise<CryptoKey> =>
  crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);

export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const signNodeToken = async (secret: string, nodeId: string): Promise<string> => {
  if (!NODE_ID_PATTERN.test(nodeId)) throw new Error(`invalid node id "${nodeId}"`);
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), encoder.encode(`node:${nodeId}`));
  return `${nodeId}.${toBase64Url(new Uint8Array(sig))}`;
};

/** Returns the node id when the token is valid. crypto.subtle.verify compares in constant time. */
export const verifyNodeToken = async (secret: string, token: string): Promise<string | null> => {
  const dot = token.indexOf(".");
  if (dot <= 0 || token.length > 200) return null;
  const nodeId = token.slice(0, dot);
  const sig = fromBase64Url(token.slice(dot + 1));
  if (!NODE_ID_PATTERN.test(nodeId) || !sig || sig.length !== 32) return null;
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(secret, "verify"), sig, encoder.encode(`node:${nodeId}`));
  return ok ? nodeId : null;
};

/** Constant-time equality of two strings (via SHA-256 digests so lengths leak nothing either). */
export const timingSafeEqualText = async (a: string, b: string): Promise<boolean> => {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
};

export const randomToken = (bytes = 24): string => toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
