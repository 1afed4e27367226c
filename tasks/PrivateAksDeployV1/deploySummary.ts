/**
 * PrivateAksDeploy's build summary page: where it deployed and how, each line-of-sight check with
 * its fix, and the objects applied. Pure (Markdown out).
 */
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import { STATUS_ICON, cell, code, factTable, table } from '../../shared/pipeline/buildSummary';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import { operationsFor, type ApplyChange } from '../../shared/kube/applyOutput';
import { rolloutTargets, type DeployPlan } from './deployPlan';
import { probeRouteText, type PreflightOutcome } from './preflight';

export interface DeploySummary {
  facts: ClusterFacts;
  identity: SignedInIdentity;
  plan: DeployPlan;
  applied: { kind: string; namespace?: string; name: string }[];
  requestedRoute: 'auto' | 'direct' | 'runCommand';
  chosenRoute: 'direct' | 'runCommand';
  /** How kubectl got its token on the direct route. */
  credential: 'builtIn' | 'kubelogin' | 'local';
  outcomes: PreflightOutcome[];
  /** What kubectl apply said it did to each object, when it said (created, configured, unchanged, serverside-applied). */
  changes?: ApplyChange[];
}

const STEP_COLUMNS = [
  ['dns', 'DNS'],
  ['tcp', 'TCP'],
  ['tls', 'TLS'],
  ['http', 'HTTP'],
] as const;

function routeText(s: DeploySummary): string {
  if (s.chosenRoute === 'direct') return `kubectl from the agent (route: ${s.requestedRoute})`;
  if (s.requestedRoute === 'auto') return 'AKS run command (route: auto), because the agent has no line of sight to the API server';
  return 'AKS run command (route: runCommand)';
}

function credentialText(s: DeploySummary): string {
  if (s.chosenRoute === 'runCommand' && s.credential === 'local')
    return "The cluster's own credential inside the run command pod (no Entra ID integration, so no token is sent); no kubeconfig on the agent";
  if (s.chosenRoute === 'runCommand')
    return "The connection's short-lived Entra ID token, sent with the run command request; no kubeconfig on the agent";
  if (s.credential === 'local')
    return 'The local user credential of a cluster without Entra ID integration; kubeconfig 0600 in a 0700 temp folder, removed at the end';
  const helper = s.credential === 'kubelogin' ? 'the installed kubelogin' : "the task's exec credential plugin";
  return `Short-lived Entra ID tokens through ${helper}; kubeconfig 0600 in a 0700 temp folder, removed at the end`;
}

function clusterText(f: ClusterFacts): string {
  const auth = f.entraIntegration ? `Entra ID with ${f.azureRbac ? 'Azure RBAC' : 'Kubernetes RBAC'}` : 'no Entra ID integration';
  return [
    `${f.privateCluster ? 'private' : 'public'} API server`,
    auth,
    `local accounts ${f.localAccountsDisabled ? 'disabled' : 'enabled'}`,
    `run command ${f.runCommandDisabled ? 'disabled' : 'allowed'}`,
  ].join(' · ');
}

function applyText(p: DeployPlan): string {
  return [
    p.serverSideApply ? 'server-side apply' : 'client-side apply',
    p.pruneSelector ? `prune ${code(p.pruneSelector)}` : 'no prune',
    p.waitForRollout ? `rollout wait up to ${p.rolloutTimeoutSeconds} s` : 'no rollout wait',
  ].join(' · ');
}

/** The line-of-sight table: one row per endpoint, one column per step, then each failure's fix. */
export function preflightMarkdown(outcomes: PreflightOutcome[]): string[] {
  const rows = outcomes.map((o) => {
    const steps = STEP_COLUMNS.map(([step]) => {
      const s = o.result.steps.find((x) => x.step === step);
      // No-break spaces keep "✅ 4 ms" on one line in a narrow column.
      return !s ? '—' : s.ok ? `${STATUS_ICON.pass}\u00a0${s.ms}\u00a0ms` : `${STATUS_ICON.fail}\u00a0${cell(s.errorCode ?? 'failed')}`;
    });
    const verdict = o.diagnosis.ok ? `${STATUS_ICON.pass}\u00a0reachable` : `${STATUS_ICON.fail}\u00a0blocked`;
    return [
      verdict,
      `**${cell(o.target.probe.label)}**<br>${code(`${o.target.probe.host}:${o.target.probe.port}`)}<br>${cell(probeRouteText(o))}`,
      ...steps,
    ];
  });
  const out = table(['Result', 'Endpoint', ...STEP_COLUMNS.map(([, label]) => label)], rows);
  for (const o of outcomes.filter((x) => !x.diagnosis.ok)) {
    out.push(
      '',
      `${STATUS_ICON.fail} **${o.target.probe.label}: ${o.diagnosis.code}.** ${o.diagnosis.reason}`,
      '',
      `**Fix:** ${o.diagnosis.fix}`,
    );
  }
  return out;
}

/** The page when the agent cannot reach the API server on route direct: what was checked, and each fix. */
export function blockedSummaryMarkdown(facts: ClusterFacts, outcomes: PreflightOutcome[]): string {
  return (
    [
      `### ${STATUS_ICON.fail} No line of sight to ${code(facts.name)}: nothing deployed`,
      '',
      ...factTable([
        ['Cluster', `${code(facts.name)} in ${code(facts.resourceGroup)} (${facts.location})`],
        ['Cluster access', clusterText(facts)],
        ['Route', 'kubectl from the agent (route: direct), which needs line of sight; route `auto` falls back to AKS run command'],
      ]),
      '',
      '#### Line of sight from this agent',
      '',
      ...preflightMarkdown(outcomes),
    ].join('\n') + '\n'
  );
}

export function deploySummaryMarkdown(s: DeploySummary): string {
  const { facts, identity } = s;
  const rolledOut = new Set(s.plan.waitForRollout ? rolloutTargets(s.plan).map((t) => `${t.ref}@${t.namespace}`) : []);
  const out = [
    `### ${STATUS_ICON.pass} Deployed ${s.applied.length} object(s) to ${code(facts.name)}`,
    '',
    ...factTable([
      ['Cluster', `${code(facts.name)} in ${code(facts.resourceGroup)} (${facts.location}, Kubernetes ${facts.kubernetesVersion ?? '?'})`],
      ['Cluster access', clusterText(facts)],
      ['Route', routeText(s)],
      ['Signed in as', `${identity.identityType} ${code(identity.objectId ?? identity.clientId ?? '?')} (${identity.schemeLabel})`],
      ['Credential', credentialText(s)],
      ['Apply', applyText(s.plan)],
    ]),
    '',
    '#### Line of sight from this agent',
    '',
  ];
  if (s.outcomes.length) out.push(...preflightMarkdown(s.outcomes));
  else out.push('_Not checked: route runCommand sends the manifests through Resource Manager._');
  out.push('', `#### Applied objects (${s.applied.length})`, '');
  // What this run changed, as kubectl apply reported it per object; server-side apply reports only
  // "serverside-applied", which does not tell a new object from a changed or an unchanged one.
  const operations = s.changes?.length ? operationsFor(s.applied, s.changes) : undefined;
  const rows = s.applied.map((o, i) => {
    const ns = o.namespace ?? s.plan.namespace ?? 'default';
    const waited = rolledOut.has(`${o.kind.toLowerCase()}/${o.name}@${ns}`);
    const row = [o.kind, o.namespace ? code(o.namespace) : '', code(o.name), waited ? `${STATUS_ICON.pass} rolled out` : ''];
    return operations ? [...row.slice(0, 3), operations[i] ?? '', row[3]] : row;
  });
  out.push(...table(operations ? ['Kind', 'Namespace', 'Name', 'Change', 'Rollout'] : ['Kind', 'Namespace', 'Name', 'Rollout'], rows));
  return out.join('\n') + '\n';
}
