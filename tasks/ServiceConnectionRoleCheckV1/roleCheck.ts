import { signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import { subscriptionOf } from '../../shared/azure/connection/azureRmConnection';
import { authorizationClient } from '../../shared/azure/rbac/armPermissions';
import { checkHardening } from './hardeningCheck';
import { settleInClusterVerdicts } from './inClusterCheck';
import type { RoleCheckOptions } from './inputs';
import { clusterNotes, evaluatePermissions, readPermissions, resourceGroupFindings } from './permissionCheck';
import { reportIdentity, type RoleCheckFindings } from './report';
import { clusterAuthorizationOf, readResources, scopeOf, valueOf } from './roleCheckScope';

type SignedIn = Awaited<ReturnType<typeof signInWithTaskConnection>>;

/** Signs in and reports who the connection is: this task's first answer, given even when the other inputs are wrong. */
export async function signIn(): Promise<SignedIn> {
  const signedIn = await signInWithTaskConnection();
  reportIdentity(signedIn.identity);
  return signedIn;
}

/**
 * What the connection may do for the intents (Azure RBAC through the ARM
 * permissions API, then the cluster's own RoleBindings where those decide), and how the cluster and
 * registry stand against the hardening checklist.
 */
export async function checkConnection(o: RoleCheckOptions, { cc, identity }: SignedIn): Promise<RoleCheckFindings> {
  const subscriptionId = subscriptionOf(cc.connection);
  const oid = identity.objectId;
  const scope = scopeOf(o, subscriptionId);
  const authz = authorizationClient(cc, subscriptionId);
  const [permissions, resources] = await Promise.all([readPermissions(authz, o, scope, oid), readResources(cc, o, scope, oid)]);
  Object.assign(scope, resources);

  const clusterAuthorization = clusterAuthorizationOf(valueOf(scope.clusterRead));
  let evaluation = evaluatePermissions(o, scope, permissions, clusterAuthorization);
  const notes: string[] = [];
  if (clusterAuthorization === 'kubernetesRbac' && o.clusterName && evaluation.verdicts.some((v) => v.verdict === 'inCluster')) {
    const settled = await settleInClusterVerdicts(cc, o, scope, oid, evaluation);
    evaluation = settled.evaluation;
    notes.push(settled.note);
  }
  notes.push(...clusterNotes(o, scope, clusterAuthorization));
  const resourceGroup = resourceGroupFindings(o, permissions);
  notes.push(...resourceGroup.notes);

  const hardening = o.checkHardening && (o.clusterName || o.registryName) ? await checkHardening(authz, o, scope) : undefined;
  return {
    identity,
    evaluation,
    context: { principalObjectId: oid, scopeLabels: scope.scopeLabels },
    resourceGroupLine: resourceGroup.line,
    notes,
    hardening,
  };
}
