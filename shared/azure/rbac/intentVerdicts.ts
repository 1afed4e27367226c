/**
 * Verdicts for the chosen intents: each required operation checked against the permissions ARM
 * returned at its scope, with the least-privileged role suggested for what is missing. Pure.
 */
import { operationsFor, type IntentName, type RequiredOperation, type ScopeKind } from './intents';
import { suggestAssignments, type SuggestedAssignment, type MissingOperation } from './leastPrivilegedRoles';
import { evaluatePermission, type PermissionEntry } from './permissionEvaluator';

/** How the cluster decides Kubernetes access: Azure RBAC data actions, in-cluster RoleBindings, or no Entra ID at all. */
export type ClusterAuthorization = 'azureRbac' | 'kubernetesRbac' | 'localAccounts' | 'unknown';

export type Verdict = 'granted' | 'missing' | 'inCluster';

export interface OperationVerdict extends RequiredOperation {
  scopeId: string;
  verdict: Verdict;
  /** notActions / notDataActions that removed the operation from a role that would otherwise grant it. */
  excludedBy: string[];
  detail?: string;
}

export interface IntentEvaluation {
  verdicts: OperationVerdict[];
  /** Distinct operation and scope pairs that are missing. */
  missing: MissingOperation[];
  assignments: SuggestedAssignment[];
  /** Missing operations no curated role covers (none today; kept honest if the table falls behind). */
  unmatched: MissingOperation[];
}

export interface IntentContext {
  scopeIds: Partial<Record<ScopeKind, string>>;
  permissions: Partial<Record<ScopeKind, readonly PermissionEntry[]>>;
  clusterAuthorization: ClusterAuthorization;
  namespace: string;
}

export function evaluateIntents(intents: readonly IntentName[], ctx: IntentContext): IntentEvaluation {
  const verdicts: OperationVerdict[] = [];
  for (const required of intents.flatMap(operationsFor)) {
    const scopeId = ctx.scopeIds[required.scope];
    if (!scopeId) throw new Error(`No ${required.scope} scope for ${required.intent}`);
    const kubernetes = required.kind === 'dataAction';
    if (kubernetes && ctx.clusterAuthorization === 'kubernetesRbac') {
      verdicts.push({
        ...required,
        scopeId,
        verdict: 'inCluster',
        excludedBy: [],
        detail: `the cluster uses Kubernetes RBAC: a RoleBinding in '${ctx.namespace}' decides, not Azure RBAC (not checked)`,
      });
      continue;
    }
    if (kubernetes && ctx.clusterAuthorization === 'localAccounts') {
      verdicts.push({
        ...required,
        scopeId,
        verdict: 'inCluster',
        excludedBy: [],
        detail: 'the cluster has no Entra ID integration: its local credential decides (not checked)',
      });
      continue;
    }
    const result = evaluatePermission(ctx.permissions[required.scope] ?? [], required.operation, required.kind);
    verdicts.push({
      ...required,
      scopeId,
      verdict: result.allowed ? 'granted' : 'missing',
      excludedBy: result.excludedBy,
      detail:
        !result.allowed && result.excludedBy.length
          ? `granted by a role but removed by its ${required.kind === 'action' ? 'notActions' : 'notDataActions'} ${result.excludedBy.join(', ')}`
          : kubernetes && ctx.clusterAuthorization === 'unknown'
            ? 'the cluster could not be read: Azure RBAC assumed'
            : undefined,
    });
  }
  const missing: MissingOperation[] = [];
  for (const v of verdicts) {
    if (v.verdict === 'missing' && !missing.some((m) => m.operation === v.operation && m.scopeId === v.scopeId))
      missing.push({ operation: v.operation, scopeId: v.scopeId });
  }
  const { assignments, unknown } = suggestAssignments(missing);
  return { verdicts, missing, assignments, unmatched: unknown };
}
