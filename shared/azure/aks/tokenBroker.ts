import { randomBytes, timingSafeEqual } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { acquireToken, type AcquiredToken, type ConnectionCredential } from '../identity/connectionCredential';
import { messageOf } from '../../pipeline/explainedError';
import { registerSecret } from '../../pipeline/secrets';

import {
  BROKER_HOST,
  BROKER_KEY_ENV,
  BROKER_TOKEN_PATH,
  BROKER_URL_ENV,
  brokerAuthorization,
  brokerTokenBody,
  brokerUrl,
} from './tokenBrokerProtocol';

// Where kubectl's exec credential plugin finds the broker (tokenBrokerProtocol): named here too for the callers that know them from here.
export { BROKER_KEY_ENV, BROKER_URL_ENV };

export interface TokenBroker {
  /** Environment to give kubectl (and so its exec plugin). */
  env: Record<string, string>;
  /** How many tokens were handed out, for logs and tests. */
  served(): number;
  /** Settles when the token asked for ahead of kubectl (prefetch) is there or has failed. */
  prefetched: Promise<void>;
  close(): Promise<void>;
}

/**
 * Hands AKS API server tokens from the task's own credential to kubectl's exec plugin. The
 * credential (and with it the service connection's secret or the WIF OIDC exchange) never leaves
 * the task process: the plugin only gets short-lived AKS tokens, on request, over loopback,
 * with a per-run random key. A token that expires during a long apply or rollout is simply
 * requested again, and the credential renews it (for WIF, with a fresh OIDC token).
 */
export async function startTokenBroker(cc: ConnectionCredential, options: { prefetch?: boolean } = {}): Promise<TokenBroker> {
  const key = randomBytes(32).toString('base64url');
  registerSecret(key);
  const expected = Buffer.from(brokerAuthorization(key));
  let served = 0;
  // Asked for at once (while the preflight runs), so kubectl's first request finds it; taken by
  // that request rather than asked for again, as the credential does not share a request in
  // flight. A failed prefetch is only a miss: the request asks again and reports that outcome.
  let ahead: Promise<AcquiredToken> | undefined = options.prefetch ? acquireToken(cc, 'aksServer') : undefined;
  const prefetched = ahead
    ? ahead.then(
        () => undefined,
        () => undefined,
      )
    : Promise.resolve();
  const nextToken = async (): Promise<AcquiredToken> => {
    const first = ahead;
    ahead = undefined;
    if (first) {
      try {
        return await first;
      } catch {
        // asked again below
      }
    }
    return acquireToken(cc, 'aksServer');
  };
  const server = http.createServer((req, res) => {
    const presented = Buffer.from(req.headers.authorization ?? '');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      res.writeHead(401).end();
      return;
    }
    if (req.method !== 'GET' || req.url !== BROKER_TOKEN_PATH) {
      res.writeHead(404).end();
      return;
    }
    nextToken().then(
      (token) => {
        served++;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(brokerTokenBody(token.token, token.expiresOnTimestamp));
      },
      (err) => res.writeHead(502, { 'Content-Type': 'text/plain' }).end(messageOf(err)),
    );
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, BROKER_HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    env: { [BROKER_URL_ENV]: brokerUrl(port), [BROKER_KEY_ENV]: key },
    served: () => served,
    prefetched,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
