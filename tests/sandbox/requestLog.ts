/**
 * Shared request log: every request any sandbox service received, in arrival order.
 *
 * `path` is the URL path only. The query string is kept separately in `query`, with the values
 * of parameters that can carry secrets replaced by `REDACTED`. Request bodies are never logged.
 */

export type ServiceName = 'entra' | 'oidc' | 'imds' | 'arm' | 'aks' | 'acr';

export interface RequestRecord {
  service: ServiceName;
  method: string;
  /** URL path without the query string. */
  path: string;
  /** Query string (without '?') with secret-bearing values redacted; '' when absent. */
  query: string;
  /** HTTP status sent; 0 when the connection was dropped (fault) or the client went away first. */
  status: number;
  startedAt: Date;
  durationMs: number;
  /** Name of the injected fault that handled this request, if any. */
  fault?: string;
  /** Service-specific facts useful in assertions, e.g. `{ clientId, credential: 'federated', error: 'AADSTS700213' }`. */
  note?: Record<string, string>;
}

const SECRET_QUERY_KEYS =
  /^(client_secret|client_assertion|assertion|access_token|refresh_token|id_token|code|password|token|sig|signature|secret)$/i;

export function redactQuery(search: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const [key, value] of search) out.append(key, SECRET_QUERY_KEYS.test(key) ? 'REDACTED' : value);
  return out.toString();
}

export class RequestLog extends Array<RequestRecord> {
  // Array methods that create arrays (filter, map, slice...) return plain arrays.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** Number of requests to `service` (and whose path contains `pathIncludes`, when given). */
  count(service: ServiceName, pathIncludes?: string): number {
    return this.for(service, pathIncludes).length;
  }

  /** Requests to `service` (optionally filtered by a path substring), in arrival order. */
  for(service: ServiceName, pathIncludes?: string): RequestRecord[] {
    return this.filter((r) => r.service === service && (pathIncludes === undefined || r.path.includes(pathIncludes)));
  }

  last(service?: ServiceName): RequestRecord | undefined {
    for (let i = this.length - 1; i >= 0; i--) {
      if (service === undefined || this[i].service === service) return this[i];
    }
    return undefined;
  }

  clear(): void {
    this.length = 0;
  }

  /** One line per request, for assertion messages. */
  describe(): string {
    return this.map(
      (r) =>
        `${r.service} ${r.method} ${r.path}${r.query ? `?${r.query}` : ''} -> ${r.status}${r.fault ? ` (fault ${r.fault})` : ''}${r.note ? ` ${JSON.stringify(r.note)}` : ''}`,
    ).join('\n');
  }
}
