/**
 * action preview: what kubectl diff said would change, in the log and on the build summary page (a
 * table of objects, created / changed / unchanged, then each diff cut to a readable size), so a
 * stage behind an approval can show the approver what the deployment will do.
 */
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import { objectDiffs, truncateDiff, type ObjectDiff } from '../../shared/kube/kubectlDiff';
import { isClusterScoped } from '../../shared/kube/manifests';
import { STATUS_ICON, code, factTable, table, uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { namespaceObject, namespaceOf, type DeployPlan } from './deployPlan';
import type { RouteName } from './route';

/** Each object's diff on the page is cut to this many characters, and all of them to MAX_PAGE_DIFF. */
export const MAX_OBJECT_DIFF = 4_000;
const MAX_PAGE_DIFF = 60_000;

const VERDICT_TEXT: Record<ObjectDiff['verdict'], string> = {
  created: '🆕 created',
  changed: '✏️ changed',
  unchanged: '➖ unchanged',
  deleted: '🗑️ deleted (prune)',
};

/** The plan's objects as kubectl diff names them (the namespace kubectl would give each). */
export function previewObjects(plan: DeployPlan): ObjectDiff[] {
  const ns = namespaceObject(plan);
  return (ns ? [ns, ...plan.objects] : plan.objects).map((o) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: isClusterScoped(o.kind) ? '' : namespaceOf(plan, o),
    name: o.metadata.name,
    verdict: 'unchanged',
    diff: '',
  }));
}

export function countVerdicts(diffs: ObjectDiff[]): Record<ObjectDiff['verdict'], number> {
  const counts = { created: 0, changed: 0, unchanged: 0, deleted: 0 };
  for (const d of diffs) counts[d.verdict]++;
  return counts;
}

function countsText(diffs: ObjectDiff[]): string {
  const c = countVerdicts(diffs);
  return [
    `${c.created} to create`,
    `${c.changed} to change`,
    ...(c.deleted ? [`${c.deleted} to delete`] : []),
    `${c.unchanged} unchanged`,
  ].join(', ');
}

/** The page. Pure. */
export function previewSummaryMarkdown(s: { facts: ClusterFacts; route: RouteName; diffs: ObjectDiff[] }): string {
  const out = [
    `### ${STATUS_ICON.info} Preview for ${code(s.facts.name)}: ${countsText(s.diffs)}`,
    '',
    '_Nothing was applied: kubectl diff asked the API server what the apply would do (server-side dry run)._',
    '',
    ...factTable([
      ['Cluster', `${code(s.facts.name)} in ${code(s.facts.resourceGroup)} (Kubernetes ${s.facts.kubernetesVersion ?? '?'})`],
      ['Route', s.route === 'direct' ? 'kubectl from the agent' : 'AKS run command'],
    ]),
    '',
    `#### Objects (${s.diffs.length})`,
    '',
    ...table(
      ['Change', 'Kind', 'Namespace', 'Name'],
      s.diffs.map((d) => [VERDICT_TEXT[d.verdict], d.kind, d.namespace ? code(d.namespace) : '', code(d.name)]),
    ),
  ];
  let budget = MAX_PAGE_DIFF;
  const changed = s.diffs.filter((d) => d.diff);
  if (changed.length) out.push('', '#### Differences', '', '_Secret values are masked by kubectl diff._');
  for (const d of changed) {
    out.push('', `**${d.kind} ${code(d.namespace ? `${d.namespace}/${d.name}` : d.name)}** (${d.verdict})`, '');
    if (budget <= 0) {
      out.push('_Not shown: the page holds the first diffs only; the full diff is in the log._');
      continue;
    }
    const shown = truncateDiff(d.diff, Math.min(MAX_OBJECT_DIFF, budget));
    budget -= shown.length;
    // A fence longer than any backtick run in the diff keeps the diff from closing it.
    const fence = '`'.repeat(Math.max(3, ...[...shown.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    out.push(`${fence}diff`, shown, fence);
  }
  return out.join('\n') + '\n';
}

/** The log lines, the page, and the closing line of a preview. */
export async function reportPreview(
  d: { facts: ClusterFacts; plan: DeployPlan; route: RouteName },
  output: string,
  timings: PhaseTimings,
): Promise<ObjectDiff[]> {
  const diffs = objectDiffs(output, previewObjects(d.plan));
  console.log('Preview (nothing applied):');
  for (const x of diffs)
    console.log(neutralizeLoggingCommands(`  ${x.verdict.padEnd(9)} ${x.kind} ${x.namespace ? `${x.namespace}/` : ''}${x.name}`));
  await timings.time('summary', () =>
    uploadSummaryPage('private-aks-deploy-preview', 'Private AKS deploy preview', previewSummaryMarkdown({ ...d, diffs })),
  );
  console.log(`Preview of ${diffs.length} object(s) on ${d.facts.name} via ${d.route}: ${countsText(diffs)}. Nothing was applied.`);
  console.log(timings.line());
  return diffs;
}
