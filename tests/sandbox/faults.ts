/**
 * Shared fault injection. A fault is queued per service and consumed by the next matching
 * requests (`times` of them), in the order the faults were injected.
 *
 *   sandbox.faults.inject('entra', { status: 503, retryAfterSeconds: 0, times: 1 });
 *   sandbox.faults.inject('imds', { dropConnection: true, times: 2 });
 *   sandbox.faults.inject('entra', { delayMs: 200, times: 1, pathIncludes: '/oauth2/' });
 *
 * `delayMs` alone delays the request and then lets the service answer normally; combined with
 * `status` or `dropConnection` the delay comes first.
 */
import type { ServiceName } from './requestLog';

export interface FaultSpec {
  /** Answer with this HTTP status (and a service-shaped JSON error body). */
  status?: number;
  /** Adds a `Retry-After` header (seconds). */
  retryAfterSeconds?: number;
  /** Waits this long before answering (or before dropping). */
  delayMs?: number;
  /** Destroys the TCP connection without an HTTP response. */
  dropConnection?: boolean;
  /** Number of requests the fault applies to. */
  times: number;
  /** Only requests whose path contains this substring match. */
  pathIncludes?: string;
  /** Only requests with this method match (case-insensitive). */
  method?: string;
  /** Replaces the service's default fault body (object → JSON). */
  body?: string | Record<string, unknown>;
}

export interface ActiveFault extends FaultSpec {
  readonly id: string;
  readonly service: ServiceName;
  /** Requests still to be faulted. */
  remaining: number;
}

export class FaultInjector {
  private readonly queue: ActiveFault[] = [];
  private nextId = 1;

  inject(service: ServiceName, spec: FaultSpec): ActiveFault {
    if (!Number.isInteger(spec.times) || spec.times < 1) throw new Error('FaultSpec.times must be a positive integer');
    if (spec.status === undefined && !spec.dropConnection && spec.delayMs === undefined) {
      throw new Error('FaultSpec needs status, dropConnection or delayMs');
    }
    const fault: ActiveFault = { ...spec, id: `${service}#${this.nextId++}`, service, remaining: spec.times };
    this.queue.push(fault);
    return fault;
  }

  /** Consumes one use of the first fault matching the request, if any. */
  take(service: ServiceName, method: string, path: string): ActiveFault | undefined {
    const fault = this.queue.find(
      (f) =>
        f.service === service &&
        (f.pathIncludes === undefined || path.includes(f.pathIncludes)) &&
        (f.method === undefined || f.method.toUpperCase() === method.toUpperCase()),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.queue.splice(this.queue.indexOf(fault), 1);
    return fault;
  }

  /** Faults not yet fully consumed (optionally for one service). */
  pending(service?: ServiceName): ActiveFault[] {
    return this.queue.filter((f) => service === undefined || f.service === service);
  }

  clear(service?: ServiceName): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (service === undefined || this.queue[i].service === service) this.queue.splice(i, 1);
    }
  }
}
