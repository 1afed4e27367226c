import * as https from 'https';
import { proxyTunnelAgent, type AgentRoute } from '../../net/agentHttpSettings';
import { DeadlineExceededError, withDeadline } from '../../net/deadline';
import type { OperationVerdict } from './intentVerdicts';

/** A Kubernetes check a data action stands for: `…/apps/deployments/write` → create and patch deployments.apps. */
export interface KubernetesCheck {
  group: string;
  resource: string;
  verbs: string[];
}

const AKS_PREFIX = 'Microsoft.ContainerService/managedClusters/';

/** The verbs and resource an Azure RBAC data action covers, for a SelfSubjectAccessReview. */
export function kubernetesCheckOf(dataAction: string): KubernetesCheck | undefined {
  if (!dataAction.startsWith(AKS_PREFIX)) return undefined;
  const parts = dataAction.slice(AKS_PREFIX.length).split('/');
  const action = parts.pop();
  const resource = parts.pop();
  if (!resource || !action) return undefined;
  const verbs = action === 'read' ? ['get', 'list'] : action === 'write' ? ['create', 'patch'] : action === 'delete' ? ['delete'] : [];
  return verbs.length ? { group: parts.join('/'), resource, verbs } : undefined;
}

export interface ApiServerAccess {
  server: string;
  caPem?: string;
  tlsServerName?: string;
  token: string;
  /** The way kubectl would go (the agent's proxy unless its bypass list names the server). */
  route?: AgentRoute;
}

/** Asks the API server, as the connection's identity, whether it may do each verb (SelfSubjectAccessReview). */
async function canI(
  api: ApiServerAccess,
  namespace: string,
  group: string,
  resource: string,
  verb: string,
  signal: AbortSignal,
): Promise<boolean> {
  const url = new URL(api.server);
  const body = JSON.stringify({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { namespace, group, resource, verb } },
  });
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: url.hostname,
        port: Number(url.port) || 443,
        servername: api.tlsServerName ?? url.hostname,
        path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        method: 'POST',
        ca: api.caPem ? [api.caPem] : undefined,
        agent: api.route?.kind === 'proxy' ? proxyTunnelAgent(api.route.proxy) : undefined,
        signal,
        headers: { Authorization: `Bearer ${api.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          try {
            resolve(JSON.parse(text)?.status?.allowed === true);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * Settles the in-cluster verdicts of a Kubernetes-RBAC cluster with SelfSubjectAccessReviews: the
 * cluster's RoleBindings, asked directly. Returns the verdicts with 'granted' or 'missing' in place
 * of 'inCluster' for what could be asked.
 */
export async function reviewInCluster(
  verdicts: OperationVerdict[],
  api: ApiServerAccess,
  namespace: string,
  deadlineMs: number,
): Promise<OperationVerdict[]> {
  return withDeadline(
    deadlineMs,
    (signal) =>
      Promise.all(
        verdicts.map(async (v) => {
          const check = v.verdict === 'inCluster' ? kubernetesCheckOf(v.operation) : undefined;
          if (!check) return v;
          const answers = await Promise.all(check.verbs.map((verb) => canI(api, namespace, check.group, check.resource, verb, signal)));
          const denied = check.verbs.filter((_, i) => !answers[i]);
          return {
            ...v,
            verdict: denied.length ? ('missing' as const) : ('granted' as const),
            detail: denied.length
              ? `in-cluster RBAC (SelfSubjectAccessReview) denies ${denied.join(', ')} ${check.resource}${check.group ? `.${check.group}` : ''} in '${namespace}'`
              : `in-cluster RBAC allows it (SelfSubjectAccessReview)`,
          };
        }),
      ),
    () => new DeadlineExceededError('SelfSubjectAccessReviews', deadlineMs),
  );
}

/** The RoleBinding that grants the usual deploy verbs to an Entra identity in a namespace. */
export function roleBindingCommand(principalObjectId: string, namespace: string): string {
  return `kubectl create rolebinding private-aks-deploy --clusterrole=edit --user=${principalObjectId} --namespace ${namespace}`;
}
