import * as net from 'net';
import { invalidInput } from '../pipeline/explainedError';

/** An IPv4 address or CIDR range, normalised (`203.0.113.7` → `203.0.113.7/32` for matching). */
export interface Ipv4Range {
  /** As ACR stores it: a bare address for /32, else `a.b.c.d/n` with the network address. */
  value: string;
  base: number;
  prefix: number;
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

/**
 * Parses an IPv4 address or CIDR as ACR and AKS accept them. IPv6 is refused with the reason
 * (ACR IP rules are IPv4 only), and so is a CIDR whose host bits are set (203.0.113.7/24), since
 * Azure would silently widen it.
 */
export function parseIpv4Range(input: string, value: string): Ipv4Range {
  const text = value.trim();
  const [address, prefixText, ...rest] = text.split('/');
  if (net.isIPv6(address)) {
    throw invalidInput(
      input,
      `'${text}' is an IPv6 address: ACR network rules and AKS authorized IP ranges take IPv4 only.`,
      "Give the agent's IPv4 egress address (an IPv6-only agent needs a private endpoint instead).",
    );
  }
  if (rest.length > 0 || !net.isIPv4(address) || (prefixText !== undefined && !/^\d{1,2}$/.test(prefixText))) {
    throw invalidInput(
      input,
      `'${text}' is not an IPv4 address or CIDR range.`,
      'Write addresses like 203.0.113.7 or ranges like 203.0.113.0/24, one per line.',
    );
  }
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix < 8 || prefix > 32) {
    throw invalidInput(
      input,
      `'${text}' has a /${prefix} prefix: ranges wider than /8 (or beyond /32) are refused.`,
      'Use a narrower range that covers only your agents.',
    );
  }
  const base = toNumber(address);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((base & mask) >>> 0 !== base) {
    throw invalidInput(
      input,
      `'${text}' has host bits set for a /${prefix}: the range starts at ${toAddress((base & mask) >>> 0)}.`,
      `Write ${toAddress((base & mask) >>> 0)}/${prefix}, or the single address without a prefix.`,
    );
  }
  return { value: prefix === 32 ? address : `${address}/${prefix}`, base, prefix };
}

/** Whether an address falls in a range. */
export function ipv4RangeContains(range: Ipv4Range, address: string): boolean {
  if (!net.isIPv4(address)) return false;
  const mask = range.prefix === 0 ? 0 : (0xffffffff << (32 - range.prefix)) >>> 0;
  return (toNumber(address) & mask) >>> 0 === range.base;
}

/** The same rule written two ways (`203.0.113.7` and `203.0.113.7/32`) is one rule. */
export function sameIpRule(a: string, b: string): boolean {
  const norm = (v: string) => (v.endsWith('/32') ? v.slice(0, -3) : v).toLowerCase();
  return norm(a) === norm(b);
}
