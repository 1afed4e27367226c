import { ClusterAccess, clusterTargetOf, type ClusterTarget } from '../../shared/azure/aks/clusterAccess';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import { startTokenBroker, type TokenBroker } from '../../shared/azure/aks/tokenBroker';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import { usesEntraExec, type Kubeconfig } from '../../shared/kube/kubeconfig';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { onTaskEnd } from '../../shared/pipeline/runTask';
import type { DeployOptions } from './inputs';

/** Who signed in, and the cluster as Resource Manager describes it. */
export interface ClusterSession {
  cc: ConnectionCredential;
  identity: SignedInIdentity;
  target: ClusterTarget;
  access: ClusterAccess;
  facts: ClusterFacts;
  /** The user credential, asked for right after the facts (not on route runCommand, nor for the admin credential). */
  userKubeconfig?: Promise<Kubeconfig>;
}

/** Signs in (quietly: the identity is printed once the inputs passed) and reads the cluster. */
export async function openSession(o: DeployOptions, timings: PhaseTimings): Promise<ClusterSession> {
  const { cc, identity } = await timings.time('sign-in', () => signInWithTaskConnection({ quiet: true }));
  const target = clusterTargetOf(o.cluster, cc.connection.subscriptionId);
  const access = new ClusterAccess(cc, target, identity.objectId);
  // Read one after the other on purpose: at once, the second read opens a second TLS connection to
  // Resource Manager, which cost more than the reused one saves (bench: 59 ms at once, 37 ms in turn).
  const facts = await timings.time('cluster', () => access.facts());
  // The admin credential only once the cluster has been seen to allow it (clusterKubeconfig).
  const userKubeconfig = o.route === 'runCommand' || o.useAdmin ? undefined : timings.time('credential', () => access.kubeconfig(false));
  userKubeconfig?.catch(() => undefined); // awaited in clusterKubeconfig, after the cluster's facts are printed
  return { cc, identity, target, access, facts, userKubeconfig };
}

/**
 * The kubeconfig for the line of sight and the direct route. Run command needs none (az aks command
 * invoke asks for none): route runCommand works with the run command actions alone.
 */
export async function clusterKubeconfig(o: DeployOptions, s: ClusterSession, timings: PhaseTimings): Promise<Kubeconfig | undefined> {
  if (o.useAdmin && s.facts.localAccountsDisabled) {
    throw new ExplainedError({
      what: 'Getting the cluster admin credential',
      reason: `'${s.facts.name}' disables local accounts, so AKS hands out no admin credential.`,
      fix: 'Leave useAdminCredentials off: the task deploys with an Entra ID token and the cluster user credential.',
      code: 'LOCAL_ACCOUNTS_DISABLED',
    });
  }
  if (o.route === 'runCommand') return undefined;
  if (!o.useAdmin) return s.userKubeconfig;
  return timings.time('credential', () => s.access.kubeconfig(true));
}

/**
 * The built-in helper's broker, for an Entra kubeconfig: it starts before the preflight, and its
 * first AKS token is asked for while the probes run, so kubectl's exec plugin finds it ready.
 */
export async function tokenBrokerFor(
  o: DeployOptions,
  s: ClusterSession,
  kubeconfig: Kubeconfig | undefined,
  timings: PhaseTimings,
): Promise<TokenBroker | undefined> {
  if (!kubeconfig || !usesEntraExec(kubeconfig) || o.credentialHelper !== 'builtIn') return undefined;
  const broker = await timings.time('token broker', () => startTokenBroker(s.cc, { prefetch: true }));
  onTaskEnd(() => broker.close());
  return broker;
}
