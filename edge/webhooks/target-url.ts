/**
 * Webhook targets: https URLs on public addresses only. Refused: other schemes, credentials in the
 * URL, `localhost`-like and internal names (single-label, `.localhost`, `.local`, `.internal`,
 * `.home.arpa`, cloud metadata names), and IPv4/IPv6 literals that are loopback, private,
 * link-local, unique-local, CGNAT, multicast, reserved, documentation or cloud-metadata addresses
 * (including IPv4 embedded in IPv6: mapped, compatible, NAT64, 6to4). `ALLOW_PRIVATE_WEBHOOKS=true`
 * (development only) lifts all of this except the scheme being http(s).
 *
 * Names are checked, not resolved: a public name that resolves to a private address is stopped by
 * the platform (Workers' fetch cannot reach private networks), and deliveries never follow redirects.
 */
export type TargetCheck = { ok: true; url: string } | { ok: false; reason: string };

const BLOCKED_NAMES = new Set(["localhost", "metadata", "metadata.google.internal", "instance-data", "kubernetes.default"]);
const BLOCKED_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet", ".corp"];

/** [network, prefix length] in IPv4, as 32-bit numbers. */
const V4_BLOCKED: Array<[string, number]> = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

const v4ToNumber = (ip: string): number | null => {
  const parts = ip.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
};

const inV4 = (n: number, network: string, bits: number): boolean => {
  const base = v4ToNumber(network)!;
  const size = 2 ** (32 - bits);
  return n >= base && n < base + size;
};

/** Why an IPv4 address (as a number) is not public, or null when it is. */
const v4Problem = (n: number): string | null => {
  for (const [net, bits] of V4_BLOCKED) if (inV4(n, net, bits)) return `${net}/${bits} is not a public address range`;
  return null;
};

/** An IPv6 literal (no brackets) as eight 16-bit groups; null when it is not one. */
export const parseIpv6 = (text: string): number[] | null => {
  let s = text.toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  // A trailing dotted IPv4 (`::ffff:127.0.0.1`) becomes its two hex groups.
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.slice(lastColon + 1).includes(".")) {
    const v4 = v4ToNumber(s.slice(lastColon + 1));
    if (v4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const group = (g: string): number | null => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : null);
  const head = halves[0] ? halves[0].split(":").map(group) : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":").map(group) : [];
  if (head.includes(null) || rest.includes(null)) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    groups = [...(head as number[]), ...new Array<number>(fill).fill(0), ...(rest as number[])];
  } else {
    if (head.length !== 8) return null;
    groups = head as number[];
  }
  return groups;
};

/** Why an IPv6 address is not public, or null when it is. */
const v6Problem = (g: number[]): string | null => {
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = g;
  const embedded = (hi: number, lo: number): number => hi * 65536 + lo;
  if (g.every((x) => x === 0)) return "the unspecified address";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "a loopback address";
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0 && (f === 0xffff || f === 0)) {
    const p = v4Problem(embedded(g[6]!, g[7]!));
    return p ? `IPv4-${f === 0xffff ? "mapped" : "compatible"} address: ${p}` : f === 0 ? "a deprecated IPv4-compatible address" : null;
  }
  // IPv4-translated (::ffff:0:a.b.c.d, RFC 2765): a stack that translates it reaches the IPv4 address.
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0xffff && f === 0) {
    const p = v4Problem(embedded(g[6]!, g[7]!));
    if (p) return `IPv4-translated address: ${p}`;
  }
  // NAT64: the well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (RFC 8215).
  if (a === 0x64 && b === 0xff9b && (c === 0 || c === 1)) {
    const p = v4Problem(embedded(g[6]!, g[7]!));
    if (p) return `NAT64 address: ${p}`;
  }
  if (a === 0x2002) {
    const p = v4Problem(embedded(b, c));
    if (p) return `6to4 address: ${p}`;
  }
  if ((a & 0xfe00) === 0xfc00) return "a unique local address (fc00::/7)";
  if ((a & 0xffc0) === 0xfe80) return "a link-local address (fe80::/10)";
  if ((a & 0xffc0) === 0xfec0) return "a site-local address (fec0::/10)";
  if ((a & 0xff00) === 0xff00) return "a multicast address (ff00::/8)";
  if (a === 0x2001 && b === 0x0db8) return "a documentation address (2001:db8::/32)";
  if (a === 0x0100 && b === 0 && c === 0 && d === 0) return "a discard-only address (100::/64)";
  if (a === 0x2001 && b < 0x0200) return "an IETF protocol assignment (2001::/23)";
  return null;
};

/**
 * Checks a webhook URL. `allowPrivate` (ALLOW_PRIVATE_WEBHOOKS=true) permits http and private or
 * loopback targets, for local development.
 */
export const checkWebhookTarget = (raw: string, allowPrivate = false): TargetCheck => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "must be an absolute URL" };
  }
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) {
    return { ok: false, reason: allowPrivate ? "must be an http or https URL" : "must be an https URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials" };
  if (url.hash) url.hash = "";
  if (allowPrivate) return { ok: true, url: url.toString() };
  // WHATWG URL parsing has already normalised IPv4 forms (2130706433, 0x7f.1, 017700000001 → 127.0.0.1).
  // Every trailing dot: `localhost..` must not slip past the name checks as a "qualified" name.
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  if (host.startsWith("[")) {
    const groups = parseIpv6(host.slice(1, -1));
    if (!groups) return { ok: false, reason: "has an invalid IPv6 address" };
    const p = v6Problem(groups);
    return p ? { ok: false, reason: `must not point at a private address: ${p}` } : { ok: true, url: url.toString() };
  }
  const v4 = v4ToNumber(host);
  if (v4 !== null) {
    const p = v4Problem(v4);
    return p ? { ok: false, reason: `must not point at a private address: ${p}` } : { ok: true, url: url.toString() };
  }
  if (!host.includes(".")) return { ok: false, reason: "must use a public, fully qualified host name" };
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) return { ok: false, reason: `must not point at an internal host name (${host})` };
  return { ok: true, url: url.toString() };
};
