import type { SecretRegistry } from './scenario';

/**
 * The secret registries of every sandbox running in this process, so that every task run can be
 * scanned for what the sandboxes issued without a spec having to hand them over (see
 * tests/support/leakScan.ts).
 */
const live = new Set<SecretRegistry>();

/** Tracks a sandbox's registry until the returned function is called (on stop). */
export function trackLiveSecrets(registry: SecretRegistry): () => void {
  live.add(registry);
  return () => live.delete(registry);
}

/** Every secret any running sandbox handed out or accepted. */
export function liveIssuedSecrets(): string[] {
  return [...live].flatMap((r) => r.list());
}
