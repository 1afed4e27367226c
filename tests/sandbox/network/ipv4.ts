/**
 * IPv4 helpers shared by the private network (address allocation) and ACR's data endpoint
 * (firewall IP rules): parsing, CIDR matching. IPv6 is deliberately not handled: ACR IP rules
 * accept IPv4 addresses and ranges only.
 */

/** Parses dotted-quad IPv4 (`10.0.0.1`, no leading zeros, no shorthand) to an unsigned 32-bit number; undefined when invalid. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.trim().split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value >>> 0;
}

export function formatIpv4(value: number): string {
  const v = value >>> 0;
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
}

export interface Ipv4Range {
  /** Network address (host bits cleared). */
  network: number;
  prefix: number;
  /** Netmask as an unsigned number. */
  mask: number;
  /** The rule as written. */
  text: string;
}

/**
 * Parses `a.b.c.d` (a /32) or `a.b.c.d/n` (0 ≤ n ≤ 32). Host bits set in a CIDR are ignored
 * (the range is the enclosing network), which is how ACR evaluates such rules.
 */
export function parseIpv4Range(text: string): Ipv4Range | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash < 0 ? '32' : trimmed.slice(slash + 1);
  if (!/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > 32) return undefined;
  const address = parseIpv4(addressText);
  if (address === undefined) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (address & mask) >>> 0, prefix, mask, text };
}

/** Whether `ip` (IPv4 text) lies in `range` (IPv4 address or CIDR). False for anything unparsable. */
export function ipv4InRange(ip: string, range: string | Ipv4Range): boolean {
  const address = parseIpv4(ip);
  const parsed = typeof range === 'string' ? parseIpv4Range(range) : range;
  if (address === undefined || !parsed) return false;
  return (address & parsed.mask) >>> 0 === parsed.network;
}

/** Whether two ranges share at least one address. */
export function ipv4RangesOverlap(a: Ipv4Range, b: Ipv4Range): boolean {
  const mask = a.prefix < b.prefix ? a.mask : b.mask;
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}
