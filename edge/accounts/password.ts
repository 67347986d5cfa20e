/**
 * Password hashing with PBKDF2-HMAC-SHA256 through WebCrypto. 100,000 iterations is both the
 * requirement's floor and the most Workers' WebCrypto accepts; the count is stored with each hash
 * so it can be raised later without invalidating old ones.
 */
export const PBKDF2_ITERATIONS = 100_000;
export const SALT_BYTES = 16;
const HASH_BITS = 256;
const SCHEME = "pbkdf2_sha256";

const b64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64url = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4)), (c) => c.charCodeAt(0));

const derive = async (password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> => {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password.normalize("NFC")), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS));
};

/** Constant-time equality of two byte strings of the same length (length itself is not secret here). */
export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
};

export interface PasswordHashParts {
  iterations: number;
  salt: Uint8Array<ArrayBuffer>;
  hash: Uint8Array<ArrayBuffer>;
}

/** `pbkdf2_sha256$<iterations>$<salt>$<hash>` (base64url), or null when malformed. */
export const parsePasswordHash = (stored: string): PasswordHashParts | null => {
  const [scheme, iter, salt, hash, ...rest] = stored.split("$");
  if (scheme !== SCHEME || rest.length || !iter || !salt || !hash || !/^[1-9][0-9]{0,7}$/.test(iter)) return null;
  try {
    return { iterations: Number(iter), salt: fromB64url(salt), hash: fromB64url(hash) };
  } catch {
    return null;
  }
};

/** Hashes a new password with a fresh random 16-byte salt. */
export const hashPassword = async (password: string): Promise<string> => {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return `${SCHEME}$${PBKDF2_ITERATIONS}$${b64url(salt)}$${b64url(hash)}`;
};

/** A well-formed hash of a random password: verified against when a username is unknown, so timing does not tell. */
let dummy: string | null = null;
const dummyHash = async (): Promise<string> => (dummy ??= await hashPassword(crypto.randomUUID()));

/** Checks `password` against a stored hash (or, when `stored` is null, burns the same time and fails). */
export const verifyPassword = async (password: string, stored: string | null): Promise<boolean> => {
  const parts = parsePasswordHash(stored ?? (await dummyHash()));
  if (!parts || parts.iterations > PBKDF2_ITERATIONS) return false;
  const derived = await derive(password, parts.salt, parts.iterations);
  return bytesEqual(derived, parts.hash) && stored !== null;
};
