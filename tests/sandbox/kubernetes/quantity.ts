/**
 * Kubernetes resource quantities (apimachinery pkg/api/resource), as far as the sandbox scheduler
 * and quota admission need them: parse cpu to millicores and memory to bytes, and print them back
 * in the canonical forms the API uses (`500m`, `2`, `128Mi`, `1Gi`).
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The quantity's value in base units (cores, bytes, count); NaN when unparseable. */
export function parseQuantity(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return NaN;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.exec(value.trim());
  if (!m) return NaN;
  const suffix = m[2] ?? '';
  return Number(m[1]) * (BINARY[suffix] ?? DECIMAL[suffix]);
}

/** Canonical text of a quantity of `resource` (cpu-like: cores with `m`; memory-like: binary suffixes; counts: integers). */
export function formatQuantity(resource: string, value: number): string {
  const name = resource.replace(/^(requests|limits)\./, '');
  if (name === 'cpu') {
    const milli = Math.round(value * 1000);
    return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
  }
  if (name === 'memory' || name.startsWith('ephemeral-storage')) {
    for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
      const unit = BINARY[suffix];
      if (value >= unit && value % unit === 0) return `${value / unit}${suffix}`;
    }
    return String(Math.round(value));
  }
  return String(Math.round(value));
}
