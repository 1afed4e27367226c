/**
 * Process-local pool of RSA-2048 key pairs.
 *
 * RSA key generation costs 100-500 ms per key on a small CI machine; a sandbox needs two
 * signing keys plus one per certificate principal. A sandbox leases keys from this pool and
 * returns them when it stops, so sandboxes running one after another in the same mocha process
 * reuse keys while concurrently running sandboxes never share one. Keys live in memory only.
 * `startSandbox(scenario, { freshKeys: true })` bypasses the pool.
 */
import { generateKeyPairAsync, type KeyPair } from '../testCa';

const idle: KeyPair[] = [];

export interface KeyLease {
  take(): Promise<KeyPair>;
  /** Returns every leased key to the pool (unless the lease was fresh). */
  release(): void;
}

export function leaseRsaKeys(fresh = false): KeyLease {
  const leased: KeyPair[] = [];
  return {
    async take() {
      const key = (!fresh && idle.pop()) || (await generateKeyPairAsync('rsa'));
      leased.push(key);
      return key;
    },
    release() {
      if (!fresh) idle.push(...leased);
      leased.length = 0;
    },
  };
}
