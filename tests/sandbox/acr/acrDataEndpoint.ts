/**
 * A container registry's login server / data endpoint (`/v2/`), as far as its network rules go:
 * the ACR firewall (public network access, default action, IP rules with propagation delay) in
 * front of the Docker registry v2 authentication challenge.
 *
 *   const acr = await AcrDataEndpoint.start({ registryName: 'contosoacr', context: sandbox.context,
 *                                             getRegistry: () => arm.registryNetworkState('contosoacr') });
 *   // public clients: acr.origin (https://127.0.0.1:<port>)
 *   // through the private endpoint: acr.privateEndpointPort (give it to PrivateNetwork names)
 *
 * Two listeners, one handler:
 *   - the public endpoint (`port`): a caller's IP is the `X-Sandbox-Client-Ip` header when present
 *     (set by tests, never by product code), else `clientIp` (per instance), else the scenario's
 *     agent egress IP (default 203.0.113.10). The firewall applies.
 *   - the private endpoint (`privateEndpointPort`): what the VNet namespace reaches through the
 *     registry's privatelink names. IP rules and public network access do not apply to private
 *     endpoint traffic (as documented for ACR), so such callers always get to the auth challenge.
 *
 * Firewall, from the rules in effect (see below):
 *   publicNetworkAccess 'Disabled'              → 403 DENIED "client with IP '<ip>' is not allowed access…"
 *   defaultAction 'Allow'                       → allowed
 *   defaultAction 'Deny' and IP in an ipRule    → allowed (rules are IPv4 addresses or CIDRs)
 *   otherwise                                   → 403 DENIED (same text)
 * Allowed callers get 401 UNAUTHORIZED with `Www-Authenticate: Bearer realm=…,service=…[,scope=…]`.
 * Tokens (/oauth2/exchange, /oauth2/token) are not implemented yet: /v2/ always challenges.
 *
 * Propagation: a network change becomes effective `firewallPropagationSeconds` after its
 * `lastNetworkChangeAt`; until then the previous rule set applies. The endpoint keeps the rule sets
 * it has seen (it reads the getter at start, on every request and every 100 ms), so "previous" is
 * the last one seen before the change.
 *
 * Texts: the DENIED body is ACR's (its JSON writer escapes `'` as \u0027, kept here); the
 * UNAUTHORIZED message and the response headers are those of recorded ACR responses. See the
 * comments at ACR_TEXTS.
 */
import { randomUUID } from 'node:crypto';
import type { SandboxContext } from '../index';
import { ipv4InRange, parseIpv4, parseIpv4Range } from '../network/ipv4';
import { ServiceServer, type SandboxRequest, type SandboxResponse } from '../server';

/** Header through which a test states the caller's public IP. Product code never sends it. */
export const CLIENT_IP_HEADER = 'X-Sandbox-Client-Ip';
export const DEFAULT_AGENT_EGRESS_IP = '203.0.113.10';

/**
 * ACR's texts.
 * - DENIED: MicrosoftDocs/SupportArticles-docs, support/azure/azure-container-registry/
 *   client-ip-address-not-allowed-access.md ("The container registry firewall is blocking access to
 *   your device, or the firewall disables public network access": the same error for both) and the
 *   ACR troubleshooting articles quoting the raw body with `\u0027`; also docker/build-push-action#1214
 *   (a real daemon error: `denied: {"errors":[{"code":"DENIED","message":"client with IP \u0027…\u0027 is
 *   not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`).
 * - UNAUTHORIZED: recorded ACR responses in Azure/azure-sdk-for-js
 *   (sdk/containerregistry/container-registry/recordings/…: message, `detail` array for repository
 *   and catalog scopes, headers incl. `Www-Authenticate: Bearer realm="https://<login>/oauth2/token",
 *   service="<login>",scope="…"`, `error="invalid_token"` when a token was sent); Azure/acr#841.
 *   `/v2/` carries no scope and `"detail":null` (registry v2 convention for the base endpoint).
 */
export const ACR_TEXTS = {
  deniedMessage: (ip: string) => `client with IP '${ip}' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.`,
  unauthorizedMessage: 'authentication required, visit https://aka.ms/acr/authorization for more information.',
} as const;

export interface AcrIpRule {
  value: string;
  action?: 'Allow';
}

/** What the endpoint needs to know about the registry (owned by the ARM state). */
export interface AcrNetworkState {
  publicNetworkAccess: 'Enabled' | 'Disabled';
  networkRuleSet: { defaultAction: 'Allow' | 'Deny'; ipRules: AcrIpRule[] };
  /** Epoch ms of the last change to any of the above. */
  lastNetworkChangeAt: number;
  firewallPropagationSeconds: number;
}

export interface AcrDataEndpointOptions {
  registryName: string;
  /** Region for the dedicated data endpoint name. Default 'eastus'. */
  location?: string;
  getRegistry(): AcrNetworkState;
  context: Pick<SandboxContext, 'ca' | 'log' | 'faults'>;
  /** Public IP of loopback callers (string or getter, read per request). Default 203.0.113.10. */
  agentEgressIp?: string | (() => string);
  /** Clock (epoch ms). Default Date.now. */
  now?: () => number;
}

export type AcrNetworkPath = 'public' | 'private-endpoint';

export interface AcrFirewallDecision {
  allowed: boolean;
  clientIp: string;
  network: AcrNetworkPath;
  /** 'privateEndpoint' | 'defaultActionAllow' | 'ipRule:<value>' | 'publicNetworkAccessDisabled' | 'noMatchingIpRule'. */
  reason: string;
  /** lastNetworkChangeAt of the rule set that decided (-Infinity: the state seen at start). */
  ruleSetChangedAt: number;
}

interface Snapshot {
  state: AcrNetworkState;
  /** When it was changed to (epoch ms); -Infinity for the state seen at start. */
  changedAt: number;
  key: string;
}

export class AcrDataEndpoint {
  /** `<name>.azurecr.io`. */
  readonly loginServer: string;
  /** `<name>.<region>.data.azurecr.io`. */
  readonly dataEndpoint: string;
  /** Names the TLS certificate carries. */
  readonly certificateNames: string[];
  /** Overrides the agent egress IP for loopback callers (undefined: the option / default). */
  clientIp: string | undefined;

  private readonly history: Snapshot[] = [];
  private readonly poll: NodeJS.Timeout;
  private publicServer?: ServiceServer;
  private privateServer?: ServiceServer;
  private closed = false;

  private constructor(private readonly options: AcrDataEndpointOptions) {
    const name = options.registryName.toLowerCase();
    const region = (options.location ?? 'eastus').toLowerCase().replace(/\s+/g, '');
    this.loginServer = `${name}.azurecr.io`;
    this.dataEndpoint = `${name}.${region}.data.azurecr.io`;
    this.certificateNames = [
      this.loginServer,
      `${name}.privatelink.azurecr.io`,
      this.dataEndpoint,
      `${name}.${region}.data.privatelink.azurecr.io`,
      'localhost',
    ];
    this.observe();
    this.poll = setInterval(() => this.observe(), 100);
    this.poll.unref();
  }

  static async start(options: AcrDataEndpointOptions): Promise<AcrDataEndpoint> {
    const endpoint = new AcrDataEndpoint(options);
    try {
      const cert = options.context.ca.issueServerCertificate(endpoint.certificateNames, ['127.0.0.1']);
      const tls = { key: cert.keyPem, cert: cert.certPem };
      const common = { service: 'acr' as const, tls, log: options.context.log, faults: options.context.faults, faultBody: acrFaultBody };
      endpoint.publicServer = await ServiceServer.start({ ...common, handler: (req) => endpoint.handle(req, 'public') });
      endpoint.privateServer = await ServiceServer.start({ ...common, handler: (req) => endpoint.handle(req, 'private-endpoint') });
    } catch (err) {
      await endpoint.close();
      throw err;
    }
    return endpoint;
  }

  /** Port of the public endpoint on 127.0.0.1. */
  get port(): number {
    return this.publicServer!.port;
  }

  /** `https://127.0.0.1:<port>` of the public endpoint. */
  get origin(): string {
    return this.publicServer!.origin;
  }

  /** Port on 127.0.0.1 that stands for the registry's private endpoint (map the privatelink names to it). */
  get privateEndpointPort(): number {
    return this.privateServer!.port;
  }

  get privateEndpointOrigin(): string {
    return this.privateServer!.origin;
  }

  /** Reads the registry state and records a new rule set if it changed. Called at start, per request and every 100 ms; callers that just changed the state may call it too. */
  observe(): void {
    const state = this.options.getRegistry();
    const copy: AcrNetworkState = {
      publicNetworkAccess: state.publicNetworkAccess,
      networkRuleSet: {
        defaultAction: state.networkRuleSet.defaultAction,
        ipRules: state.networkRuleSet.ipRules.map((r) => ({ ...r })),
      },
      lastNetworkChangeAt: state.lastNetworkChangeAt,
      firewallPropagationSeconds: state.firewallPropagationSeconds,
    };
    const key = JSON.stringify([copy.publicNetworkAccess, copy.networkRuleSet, copy.lastNetworkChangeAt, copy.firewallPropagationSeconds]);
    const last = this.history[this.history.length - 1];
    if (last?.key === key) return;
    if (!last) {
      this.history.push({ state: copy, changedAt: -Infinity, key });
      return;
    }
    // A change the owner did not date (lastNetworkChangeAt not moved forward) counts from now.
    const changedAt = copy.lastNetworkChangeAt > last.changedAt ? copy.lastNetworkChangeAt : this.now();
    this.history.push({ state: copy, changedAt, key });
  }

  /** The rule set in effect at `at` (default now), and since when. */
  effectiveRules(at = this.now()): { state: AcrNetworkState; changedAt: number } {
    this.observe();
    const now = this.now();
    for (let i = this.history.length - 1; i >= 0; i--) {
      const s = this.history[i];
      if (i === 0 || s.changedAt + s.state.firewallPropagationSeconds * 1000 <= at) {
        // Older sets can no longer become effective.
        if (i > 0 && at >= now) this.history.splice(0, i);
        return { state: s.state, changedAt: s.changedAt };
      }
    }
    throw new Error('unreachable');
  }

  /** The firewall's verdict for a caller. */
  decide(clientIp: string, network: AcrNetworkPath, at = this.now()): AcrFirewallDecision {
    const { state, changedAt } = this.effectiveRules(at);
    const base = { clientIp, network, ruleSetChangedAt: changedAt };
    if (network === 'private-endpoint') return { ...base, allowed: true, reason: 'privateEndpoint' };
    if (state.publicNetworkAccess === 'Disabled') return { ...base, allowed: false, reason: 'publicNetworkAccessDisabled' };
    if (state.networkRuleSet.defaultAction === 'Allow') return { ...base, allowed: true, reason: 'defaultActionAllow' };
    const rule = state.networkRuleSet.ipRules.find(
      (r) => (r.action ?? 'Allow') === 'Allow' && parseIpv4Range(r.value) && ipv4InRange(clientIp, r.value),
    );
    if (rule) return { ...base, allowed: true, reason: `ipRule:${rule.value}` };
    return { ...base, allowed: false, reason: 'noMatchingIpRule' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    await Promise.allSettled([this.publicServer?.close(), this.privateServer?.close()]);
  }

  // -----------------------------------------------------------------------------------------

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private callerIp(req: SandboxRequest): string {
    const header = req.header(CLIENT_IP_HEADER);
    if (header && parseIpv4(header) !== undefined) return header.trim();
    if (this.clientIp) return this.clientIp;
    const option = this.options.agentEgressIp;
    const value = typeof option === 'function' ? option() : option;
    return value || DEFAULT_AGENT_EGRESS_IP;
  }

  private handle(req: SandboxRequest, network: AcrNetworkPath): SandboxResponse {
    const clientIp = network === 'public' ? this.callerIp(req) : req.header(CLIENT_IP_HEADER)?.trim() || 'private-endpoint';
    const decision = this.decide(clientIp, network);
    const note: Record<string, string> = {
      network,
      clientIp,
      firewall: decision.allowed ? 'allowed' : 'denied',
      reason: decision.reason,
    };
    if (!decision.allowed) {
      return {
        status: 403,
        headers: this.headers(),
        // ACR's JSON writer escapes the apostrophes (\u0027); JSON.parse gives the same text.
        body: JSON.stringify({ errors: [{ code: 'DENIED', message: ACR_TEXTS.deniedMessage(clientIp) }] }).replace(/'/g, '\\u0027'),
        note,
      };
    }
    const challenge = this.challengeFor(req);
    if (!challenge) {
      return {
        status: 404,
        headers: this.headers(),
        body: JSON.stringify({
          errors: [
            { code: 'NOT_FOUND', message: `sandbox: ${req.method} ${req.path} is not implemented by the ACR data endpoint`, detail: null },
          ],
        }),
        note,
      };
    }
    const tokenSent = /^bearer\s/i.test(req.header('authorization') ?? '');
    const params = [`realm="https://${this.loginServer}/oauth2/token"`, `service="${this.loginServer}"`];
    if (challenge.scope) params.push(`scope="${challenge.scope}"`);
    if (tokenSent) params.push('error="invalid_token"');
    return {
      status: 401,
      headers: { ...this.headers(), 'Www-Authenticate': `Bearer ${params.join(',')}` },
      body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: ACR_TEXTS.unauthorizedMessage, detail: challenge.detail }] }),
      note: { ...note, auth: 'challenge' },
    };
  }

  /** Scope and error detail of the challenge for a registry API path; undefined for paths not served. */
  private challengeFor(req: SandboxRequest): { scope?: string; detail: object[] | null } | undefined {
    const p = req.path.replace(/\/+$/, '') || '/';
    if (p === '/v2') return { detail: null };
    if (p === '/v2/_catalog') return { scope: 'registry:catalog:*', detail: [{ Type: 'registry', Name: 'catalog', Action: '*' }] };
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)(\/.*)?$/.exec(p);
    if (!m) return undefined;
    const repository = m[1];
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : req.method === 'DELETE' ? 'delete' : 'push';
    const scopeActions = action === 'push' ? 'pull,push' : action;
    return { scope: `repository:${repository}:${scopeActions}`, detail: [{ Type: 'repository', Name: repository, Action: action }] };
  }

  private headers(): Record<string, string> {
    return {
      'Content-Type': 'application/json; charset=utf-8',
      Server: 'openresty',
      'Access-Control-Expose-Headers': 'Docker-Content-Digest, WWW-Authenticate, Link, X-Ms-Correlation-Request-Id',
      'Docker-Distribution-Api-Version': 'registry/2.0',
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
      'X-Content-Type-Options': 'nosniff',
      'X-Ms-Correlation-Request-Id': randomUUID(),
    };
  }
}

function acrFaultBody(status: number): object {
  if (status === 429) return { errors: [{ code: 'TOOMANYREQUESTS', message: 'too many requests' }] };
  return { errors: [{ code: 'UNKNOWN', message: `Injected sandbox fault: HTTP ${status}` }] };
}
