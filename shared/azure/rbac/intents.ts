/**
 * What the connection should be able to do (the task's `intents` input) and the Azure operations
 * each one needs, with the scope it needs them at. Pure.
 */
import type { OperationKind } from './permissionEvaluator';

export const INTENT_NAMES = [
  'deploy',
  'deployRunCommand',
  'adminCredentials',
  'acrPull',
  'acrPush',
  'acrNetworkRules',
  'aksAuthorizedIpRanges',
] as const;
export type IntentName = (typeof INTENT_NAMES)[number];

/** Where an operation is checked: the cluster, the deploy namespace inside it, or the registry. */
export type ScopeKind = 'cluster' | 'namespace' | 'registry';

export interface RequiredOperation {
  intent: IntentName;
  operation: string;
  kind: OperationKind;
  scope: ScopeKind;
  /** What the operation is for, in the report. */
  purpose: string;
}

const AKS = 'Microsoft.ContainerService/managedClusters';
const ACR = 'Microsoft.ContainerRegistry/registries';

/**
 * The Kubernetes kinds a deployment writes, as Azure RBAC data action prefixes (API group / resource).
 * kubectl apply reads each object before it patches it, so both read and write are needed.
 */
export const DEPLOY_KINDS: readonly { kind: string; resource: string }[] = [
  { kind: 'Deployment', resource: 'apps/deployments' },
  { kind: 'Service', resource: 'services' },
  { kind: 'ConfigMap', resource: 'configmaps' },
  { kind: 'Secret', resource: 'secrets' },
  { kind: 'Ingress', resource: 'networking.k8s.io/ingresses' },
];

const clusterRead = (intent: IntentName): RequiredOperation => ({
  intent,
  operation: `${AKS}/read`,
  kind: 'action',
  scope: 'cluster',
  purpose: 'read the cluster',
});

function kubernetesWrites(intent: IntentName): RequiredOperation[] {
  return DEPLOY_KINDS.flatMap(({ kind, resource }) => [
    {
      intent,
      operation: `${AKS}/${resource}/read`,
      kind: 'dataAction' as const,
      scope: 'namespace' as const,
      purpose: `read ${kind} objects`,
    },
    {
      intent,
      operation: `${AKS}/${resource}/write`,
      kind: 'dataAction' as const,
      scope: 'namespace' as const,
      purpose: `create and update ${kind} objects`,
    },
  ]);
}

/** The operations one intent needs. */
export function operationsFor(intent: IntentName): RequiredOperation[] {
  switch (intent) {
    case 'deploy':
      return [
        clusterRead(intent),
        {
          intent,
          operation: `${AKS}/listClusterUserCredential/action`,
          kind: 'action',
          scope: 'cluster',
          purpose: 'get the cluster user kubeconfig',
        },
        ...kubernetesWrites(intent),
      ];
    case 'deployRunCommand':
      // PrivateAksDeploy's route runCommand: no user kubeconfig (az aks command invoke fetches none; route
      // auto needs `deploy` as well for its direct attempt). The command's kubectl runs with the caller's
      // Entra token, so the data actions apply too.
      return [
        clusterRead(intent),
        { intent, operation: `${AKS}/runcommand/action`, kind: 'action', scope: 'cluster', purpose: 'start AKS run command' },
        { intent, operation: `${AKS}/commandResults/read`, kind: 'action', scope: 'cluster', purpose: 'read the run command result' },
        ...kubernetesWrites(intent),
      ];
    case 'adminCredentials':
      return [
        clusterRead(intent),
        {
          intent,
          operation: `${AKS}/listClusterAdminCredential/action`,
          kind: 'action',
          scope: 'cluster',
          purpose: 'get the cluster admin kubeconfig',
        },
      ];
    case 'acrPull':
      return [{ intent, operation: `${ACR}/pull/read`, kind: 'action', scope: 'registry', purpose: 'pull images' }];
    case 'acrPush':
      return [
        { intent, operation: `${ACR}/pull/read`, kind: 'action', scope: 'registry', purpose: 'pull images' },
        { intent, operation: `${ACR}/push/write`, kind: 'action', scope: 'registry', purpose: 'push images' },
      ];
    case 'acrNetworkRules':
      return [
        { intent, operation: `${ACR}/read`, kind: 'action', scope: 'registry', purpose: 'read the registry and its rules' },
        { intent, operation: `${ACR}/write`, kind: 'action', scope: 'registry', purpose: 'change the firewall rules' },
        { intent, operation: `${ACR}/listUsages/read`, kind: 'action', scope: 'registry', purpose: 'read the IP rule quota' },
      ];
    case 'aksAuthorizedIpRanges':
      return [
        clusterRead(intent),
        { intent, operation: `${AKS}/write`, kind: 'action', scope: 'cluster', purpose: 'change the authorized IP ranges' },
      ];
  }
}

/** Whether an intent concerns the cluster or the registry (so it needs that input). */
export function resourceOf(intent: IntentName): 'cluster' | 'registry' {
  return intent.startsWith('acr') ? 'registry' : 'cluster';
}

/**
 * Parses the input (a comma-separated list from a MultiSelectFlatList; newlines and semicolons
 * accepted too), case-insensitively, without duplicates. Unknown names are returned separately.
 */
export function parseIntents(value: string): { intents: IntentName[]; unknown: string[] } {
  const intents: IntentName[] = [];
  const unknown: string[] = [];
  for (const raw of value
    .split(/[,;\r\n]+/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = INTENT_NAMES.find((n) => n.toLowerCase() === raw.toLowerCase());
    if (!match) unknown.push(raw);
    else if (!intents.includes(match)) intents.push(match);
  }
  return { intents, unknown };
}
