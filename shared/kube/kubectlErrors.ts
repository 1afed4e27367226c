import type { Explanation } from '../pipeline/explainedError';

export interface KubectlFailureContext {
  server: string;
  clusterName: string;
  namespace?: string;
  /** The principal's object id, for role assignment commands. */
  principalObjectId?: string;
  clusterResourceId?: string;
  azureRbac: boolean;
  /** What the step does: an apply reads before it writes, and the role must cover the write. */
  intent?: 'read' | 'write';
}

/** The least-privileged built-in role that grants a Kubernetes verb on a resource through Azure RBAC. */
export function roleForVerb(verb: string, resource = ''): string {
  const writes = !/^(get|list|watch)$/.test(verb);
  if (resource === 'namespaces' && writes) return 'Azure Kubernetes Service RBAC Cluster Admin';
  if (/^(roles|rolebindings)$/.test(resource)) return 'Azure Kubernetes Service RBAC Admin';
  return writes ? 'Azure Kubernetes Service RBAC Writer' : 'Azure Kubernetes Service RBAC Reader';
}

/**
 * Flags the task passes that kubectl gained late, with the release that added them (kubernetes
 * CHANGELOG/CHANGELOG-1.26.md: "Added a `--prune-allowlist` flag that can be used with `kubectl apply
 * --prune`", #113116). Any other unknown flag is named with the version the task is tested with.
 */
const FLAG_ADDED_IN: Record<string, string> = { '--prune-allowlist': '1.26' };
/** The oldest kubectl the task is tested with (README). */
export const MINIMUM_KUBECTL = '1.27';

/** A connection that closed under a request: worth one more try, as apply converges. */
const CONNECTION_LOST =
  /: (unexpected )?EOF\b|connection reset by peer|http2: client connection lost|use of closed network connection|broken pipe/i;

export function isConnectionLost(stderr: string): boolean {
  return CONNECTION_LOST.test(stderr);
}

/**
 * Recognises what kubectl printed when it failed and says what it means on a private, Entra-only
 * cluster. Pure: stderr in, an explanation (or undefined when nothing is recognised) out.
 */
export function explainKubectlFailure(stderr: string, ctx: KubectlFailureContext): Omit<Explanation, 'what'> | undefined {
  const host = new URL(ctx.server).host;
  // kubectl (cobra/pflag) prints "error: unknown flag: --x" (1.32: "Error: …") and "See 'kubectl apply --help' for usage."
  const unknownFlag = /unknown flag: (--[\w-]+)/i.exec(stderr);
  if (unknownFlag) {
    const flag = unknownFlag[1];
    const added = FLAG_ADDED_IN[flag];
    return {
      code: 'KUBECTL_TOO_OLD',
      reason: `The agent's kubectl does not know the flag ${flag}, which the task passes${added ? ` (kubectl ${added} added it)` : ''}: it is older than the task needs.`,
      fix: `Install kubectl ${MINIMUM_KUBECTL} or later: a KubectlInstaller@0 step before this task, or point kubectlPath at a newer kubectl.`,
    };
  }
  if (/no such host|server misbehaving|Temporary failure in name resolution/i.test(stderr)) {
    return {
      code: 'KUBECTL_DNS',
      reason: `kubectl could not resolve ${host}: the agent has no line of sight to the private API server (private DNS zone not linked to its VNet, or a Microsoft-hosted agent).`,
      fix: 'Use route auto or runCommand, or a self-hosted agent inside the VNet with the private DNS zone linked.',
    };
  }
  if (
    /i\/o timeout|context deadline exceeded|connection timed out|dial tcp .* connect: (connection refused|no route to host|network is unreachable)/i.test(
      stderr,
    )
  ) {
    return {
      code: 'KUBECTL_UNREACHABLE',
      reason: `kubectl could not connect to ${host}: a network security group, firewall, peering gap or authorized IP ranges block the agent.`,
      fix: 'Use route auto or runCommand, or open TCP 443 from the agent to the API server.',
    };
  }
  if (isConnectionLost(stderr)) {
    return {
      code: 'KUBECTL_CONNECTION_LOST',
      reason: `The connection to ${host} closed in the middle of a request, again after a retry: a proxy, firewall or load balancer between the agent and the API server cuts connections.`,
      fix: 'Check idle and request timeouts on the network path to the API server; objects not yet applied are listed above, and running again applies them.',
    };
  }
  if (/x509: certificate is valid for|x509: certificate signed by unknown authority|tls: failed to verify/i.test(stderr)) {
    return {
      code: 'KUBECTL_TLS',
      reason: `kubectl does not trust the certificate presented for ${host}: a proxy intercepts TLS or the name resolves to another endpoint.`,
      fix: `Exclude ${host} from TLS inspection and check its DNS record.`,
    };
  }
  if (/You must be logged in to the server|Unauthorized/i.test(stderr)) {
    return {
      code: 'KUBECTL_UNAUTHORIZED',
      reason: `The API server refused the token (401): it was not for the AKS server application 6dae42f8-4368-4678-94ff-3960e28e3630, had expired, or the cluster does not use Entra ID.`,
      fix: "Check that the cluster has Entra ID integration; if it only has local accounts, its user credential works without this task's token.",
    };
  }
  const forbidden = /User "([^"]+)" cannot (\w+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/i.exec(stderr);
  if (forbidden) {
    const [, user, verb, resource, group, ns] = forbidden;
    const role = roleForVerb(ctx.intent === 'write' ? 'patch' : verb, resource);
    const scope = ctx.clusterResourceId ? `${ctx.clusterResourceId}${ns ? `/namespaces/${ns}` : ''}` : '<cluster resource id>';
    if (!ctx.azureRbac) {
      return {
        code: 'KUBECTL_FORBIDDEN',
        reason: `The cluster's Kubernetes RBAC does not let ${user} ${verb} ${resource}${group ? `.${group}` : ''}${ns ? ` in namespace ${ns}` : ''}.`,
        fix: `Bind a Role or ClusterRole that allows it to the user or group ${user} in the cluster (kubectl create rolebinding …).`,
      };
    }
    return {
      code: 'KUBECTL_FORBIDDEN',
      reason: `Azure RBAC does not let ${user} ${verb} ${resource}${group ? `.${group}` : ''}${ns ? ` in namespace ${ns}` : ''}: the identity lacks an "${role}" (or broader) role at that scope.`,
      fix: `${resource === 'namespaces' ? 'Create the namespace once outside the pipeline and set createNamespace to false, or grant: ' : ''}az role assignment create --assignee-object-id ${ctx.principalObjectId ?? user} --assignee-principal-type ServicePrincipal --role "${role}" --scope ${scope}`,
    };
  }
  const conflict = /Apply failed with \d+ conflicts?: conflict with "([^"]+)"/.exec(stderr);
  if (conflict) {
    return {
      code: 'KUBECTL_APPLY_CONFLICT',
      reason: `Server-side apply met fields owned by another manager ("${conflict[1]}").`,
      fix: 'Let this task own them (it applies with --force-conflicts), or remove the fields from the manifests.',
    };
  }
  const missingNamespace = /namespaces "([^"]+)" not found/i.exec(stderr);
  if (missingNamespace) {
    return {
      code: 'KUBECTL_NAMESPACE_MISSING',
      reason: `Namespace '${missingNamespace[1]}' does not exist in ${ctx.clusterName}.`,
      fix: 'Set createNamespace to true, or add the Namespace to the manifests.',
    };
  }
  if (/devicelogin|To sign in, use a web browser/i.test(stderr)) {
    return {
      code: 'KUBECTL_DEVICE_CODE',
      reason: 'The credential plugin asked for an interactive device-code sign-in, which a pipeline cannot answer.',
      fix: 'Use the built-in credential helper, or kubelogin with --login azurepipelines, workloadidentity, spn or msi.',
    };
  }
  if (/executable (\S+) not found|exec: "([^"]+)": executable file not found/i.test(stderr)) {
    return {
      code: 'KUBECTL_PLUGIN_MISSING',
      reason: 'kubectl could not start the credential plugin named in the kubeconfig (kubelogin is not installed on the agent).',
      fix: 'Use the built-in credential helper (credentialHelper: builtIn), or install kubelogin (KubeloginInstaller@0) before this task.',
    };
  }
  return undefined;
}
