import { BlockList, isIP } from 'node:net';

/**
 * Which recipient-supplied URLs (webhooks, push endpoints) the service may call. Pure: no DNS, no
 * I/O, so the API checks URLs at the door with it and the delivery workers check again, on the
 * address actually connected to (src/delivery/providers/guarded-request.ts).
 */
export interface OutboundPolicy {
  /** Plain http:// allowed (development only: `OUTBOUND_ALLOW_HTTP`). https only otherwise. */
  allowHttp: boolean;
  /** Address ranges exempt from the blocked ones (development and tests: `127.0.0.0/8`). */
  allowedCidrs: string[];
  /** Host patterns a URL must match (`host` exactly, `*.suffix` for any subdomain); null = any public host. */
  allowedHosts: string[] | null;
}

/** The strictest policy: https, public addresses, any host. */
export const STRICT_OUTBOUND_POLICY: OutboundPolicy = {
  allowHttp: false,
  allowedCidrs: [],
  allowedHosts: null,
};

/** The push services of the browsers in use (Chrome/Edge FCM, Firefox autopush, Safari, legacy Edge WNS). */
export const DEFAULT_PUSH_HOSTS = [
  'fcm.googleapis.com',
  'android.googleapis.com',
  'updates.push.services.mozilla.com',
  '*.push.apple.com',
  '*.notify.windows.com',
];

type Category = 'unspecified' | 'loopback' | 'private' | 'link-local or metadata' | 'multicast' | 'reserved';

const RANGES: Array<[Category, 'ipv4' | 'ipv6', string, number]> = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['private', 'ipv4', '100.64.0.0', 10], // carrier-grade NAT (and Alibaba's metadata 100.100.100.200)
  ['private', 'ipv4', '192.0.0.0', 24],
  ['private', 'ipv4', '198.18.0.0', 15],
  ['link-local or metadata', 'ipv4', '169.254.0.0', 16], // 169.254.169.254: AWS, GCP, Azure metadata
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['reserved', 'ipv4', '240.0.0.0', 4], // includes 255.255.255.255
  ['reserved', 'ipv4', '192.0.2.0', 24],
  ['reserved', 'ipv4', '198.51.100.0', 24],
  ['reserved', 'ipv4', '203.0.113.0', 24],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['private', 'ipv6', 'fc00::', 7], // unique local (AWS metadata fd00:ec2::254 too)
  ['link-local or metadata', 'ipv6', 'fe80::', 10],
  ['multicast', 'ipv6', 'ff00::', 8],
  ['reserved', 'ipv6', '100::', 64],
  ['reserved', 'ipv6', '2001:db8::', 32],
  ['reserved', 'ipv6', '2002::', 16], // 6to4 can tunnel to any IPv4 address
  ['reserved', 'ipv6', '::', 96], // IPv4-compatible (deprecated)
];

const BLOCKED = new Map<Category, BlockList>();
for (const [category, family, network, prefix] of RANGES) {
  if (!BLOCKED.has(category)) BLOCKED.set(category, new BlockList());
  BLOCKED.get(category)!.addSubnet(network, prefix, family);
}

/** 16 bytes of an IPv6 address (assumed valid). */
function ipv6Bytes(ip: string): number[] {
  let text = ip.toLowerCase().split('%')[0];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = parseInt(g || '0', 16);
    return [n >> 8, n & 0xff];
  });
}

/** The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96), else null. */
function embeddedIpv4(ip: string): string | null {
  const b = ipv6Bytes(ip);
  const prefix = b.slice(0, 12);
  const mapped = prefix.every((x, i) => (i < 10 ? x === 0 : x === 0xff));
  const nat64 = [0x00, 0x64, 0xff, 0x9b].every((x, i) => b[i] === x) && prefix.slice(4).every((x) => x === 0);
  return mapped || nat64 ? b.slice(12).join('.') : null;
}

function cidrList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, bits] = cidr.split('/');
    const family = isIP(network) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(network, Number(bits ?? (family === 'ipv6' ? 128 : 32)), family);
  }
  return list;
}

/** True when `cidr` is an IPv4 or IPv6 network with a prefix length (or a single address). */
export function isCidr(cidr: string): boolean {
  const [network, bits, extra] = cidr.split('/');
  const family = isIP(network);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32);
}

/**
 * Why the service must not connect to this IP address (`loopback`, `private`, `link-local or
 * metadata`, `multicast`, `reserved`, `unspecified`), or null when it may. Exempt ranges win.
 */
export function blockedAddressReason(ip: string, allowedCidrs: string[] = []): string | null {
  const family = isIP(ip);
  if (!family) return 'not an IP address';
  const v4 = family === 6 ? embeddedIpv4(ip) : ip;
  const [address, type] = v4 ? [v4, 'ipv4' as const] : [ip.split('%')[0], 'ipv6' as const];
  if (allowedCidrs.length > 0) {
    const allowed = cidrList(allowedCidrs);
    if (allowed.check(address, type) || (v4 && family === 6 && allowed.check(ip.split('%')[0], 'ipv6')))
      return null;
  }
  for (const [category, list] of BLOCKED) if (list.check(address, type)) return `${category} address`;
  return null;
}

/** Host pattern match: `host` exactly or `*.suffix` (any subdomain of suffix). Case-insensitive. */
export function hostAllowed(hostname: string, patterns: string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    const pattern = p.toLowerCase().trim();
    if (pattern === '*') return true;
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    return host === pattern;
  });
}

/**
 * Why the service must not call `url` (a sentence for a 400 or a permanent delivery failure), or
 * null when it may. Checks the scheme, credentials, the host list, IP literals in every notation the
 * WHATWG URL parser accepts (it normalises 2130706433 and 0x7f.1 to 127.0.0.1) and `localhost`.
 * Host names are resolved only when connecting; the connection checks the address it got.
 */
export function outboundUrlProblem(url: string, policy: OutboundPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (parsed.protocol !== 'https:' && !(policy.allowHttp && parsed.protocol === 'http:')) {
    return policy.allowHttp ? 'must be an http(s) URL' : 'must be an https URL';
  }
  if (parsed.username || parsed.password) return 'must not carry credentials';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!host) return 'has no host';
  if (policy.allowedHosts && !hostAllowed(host, policy.allowedHosts))
    return `host ${host} is not an allowed host`;
  const literal = isIP(host) ? host : /^(localhost|.*\.localhost)\.?$/i.test(host) ? '127.0.0.1' : null;
  if (literal) {
    const reason = blockedAddressReason(literal, policy.allowedCidrs);
    if (reason) return `points to a ${reason}`;
  }
  return null;
}
