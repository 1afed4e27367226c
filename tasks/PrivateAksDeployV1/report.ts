import * as tl from 'azure-pipelines-task-lib/task';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import { clusterFactsLines } from '../../shared/azure/aks/clusterFacts';
import { printSignedIn } from '../../shared/azure/identity/signIn';
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import type { ApplyChange } from '../../shared/kube/applyOutput';
import { uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { appliedObjects, type DeployPlan } from './deployPlan';
import { blockedSummaryMarkdown, deploySummaryMarkdown } from './deploySummary';
import type { DeployAction, RequestedRoute } from './inputs';
import { preflightTableLines, type PreflightOutcome } from './preflight';
import type { DeployRoute, RouteName } from './route';

/**
 * PrivateAksDeploy's log lines, build summary page and the outputs of every action (route,
 * lineOfSight) and of deploy (appliedObjects). The page's Markdown is deploySummary's; the other
 * actions' own outputs and pages are set where they are built: deletedObjects in deleteManifests.ts,
 * the preview page in previewReport.ts, rolledBack in rollback.ts.
 */
const SUMMARY = ['private-aks-deploy-summary', 'Private AKS deploy'] as const;

const PLAN_VERB: Record<DeployAction, string> = { deploy: 'apply', preview: 'preview', delete: 'delete' };

export function reportPlan(plan: DeployPlan, action: DeployAction): void {
  console.log(`${plan.objects.length} object(s) to ${PLAN_VERB[action]}.`);
}

/** The route output, for every action, once the action succeeded (a failed one leaves it unset). */
export function reportRoute(route: RouteName): void {
  tl.setVariable('route', route, false, true);
}

/** Who signed in and the cluster's facts, once the inputs passed. */
export function reportCluster(identity: SignedInIdentity, facts: ClusterFacts): void {
  printSignedIn(identity);
  console.log('Cluster:');
  for (const line of clusterFactsLines(facts)) console.log(`  ${neutralizeLoggingCommands(line)}`);
}

/**
 * The line-of-sight table, a warning for each other endpoint that failed (the API server's verdict
 * decides the route), what the verdict means for the route, and the lineOfSight output: pass, fail,
 * or skipped when nothing was probed. Blocked (route direct without line of sight): the checks and
 * their fixes go on the run's page, not only in the log, and the task fails.
 */
export function reportLineOfSight(
  facts: ClusterFacts,
  outcomes: PreflightOutcome[],
  chosen: RouteName | 'blocked',
  requested: RequestedRoute,
): void {
  if (outcomes.length > 0) {
    console.log('Line of sight from this agent:');
    for (const line of preflightTableLines(outcomes)) console.log(`  ${neutralizeLoggingCommands(line)}`);
    for (const o of outcomes.slice(1))
      if (!o.diagnosis.ok) tl.warning(neutralizeLoggingCommands(`${o.diagnosis.reason} Fix: ${o.diagnosis.fix}`));
  }
  if (chosen === 'blocked') {
    uploadSummaryPage(...SUMMARY, blockedSummaryMarkdown(facts, outcomes));
    const d = outcomes.find((o) => !o.diagnosis.ok)!.diagnosis;
    throw new ExplainedError({
      what: `Reaching the API server of '${facts.name}' from this agent`,
      reason: d.reason,
      fix: d.fix,
      code: d.code,
    });
  }
  if (chosen === 'runCommand' && requested === 'auto')
    console.log(`No line of sight to the API server: deploying through AKS run command instead (route: auto).`);
  tl.setVariable('lineOfSight', outcomes.length === 0 ? 'skipped' : outcomes.every((o) => o.diagnosis.ok) ? 'pass' : 'fail', false, true);
}

/** A failed rollout's findings on the run's summary page ("Why the rollout failed", rolloutFailure's Markdown). */
export function reportRolloutFindings(markdown: string): void {
  uploadSummaryPage(...SUMMARY, markdown);
}

/** After the deployment: the outputs, the summary page and the closing lines. */
export async function reportDeployed(
  d: {
    identity: SignedInIdentity;
    facts: ClusterFacts;
    plan: DeployPlan;
    requestedRoute: RequestedRoute;
    route: DeployRoute;
    changes?: ApplyChange[];
  },
  outcomes: PreflightOutcome[],
  timings: PhaseTimings,
): Promise<void> {
  const applied = appliedObjects(d.plan);
  tl.setVariable('appliedObjects', JSON.stringify(applied), false, true);
  const markdown = () =>
    deploySummaryMarkdown({
      facts: d.facts,
      identity: d.identity,
      plan: d.plan,
      applied,
      requestedRoute: d.requestedRoute,
      chosenRoute: d.route.name,
      credential: d.route.credential,
      outcomes,
      changes: d.changes,
    });
  await timings.time('summary', () => uploadSummaryPage(...SUMMARY, markdown()));
  console.log(`Applied ${applied.length} object(s) to ${d.facts.name} via ${d.route.name}.`);
  console.log(timings.line());
}
