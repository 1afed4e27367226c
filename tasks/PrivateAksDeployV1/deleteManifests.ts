import * as tl from 'azure-pipelines-task-lib/task';
import type { DeletedObject } from '../../shared/kube/deleteOutput';
import { STATUS_ICON, code, table, uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { shellWord, type DeployPlan } from './deployPlan';

/** action: delete's result: the manifests' objects kubectl deleted, and those that were not there. */
export interface DeleteOutcome {
  deleted: DeletedObject[];
  notFound: DeletedObject[];
}

/**
 * kubectl delete's arguments for the manifest file: only the objects it holds (a namespace only when
 * the manifests define it: createNamespace's namespace is not deleted), none missing is an error
 * (--ignore-not-found), and kubectl waits until they are gone (--wait, finalizers included) within
 * rolloutTimeoutSeconds (--timeout; kubectl delete, "--timeout: The length of time to wait before
 * giving up on a delete").
 */
export function deleteArgs(plan: DeployPlan, manifestFile: string, timeoutSeconds = plan.rolloutTimeoutSeconds): string[] {
  const args = ['delete', '-f', manifestFile, '--ignore-not-found', '--wait', `--timeout=${timeoutSeconds}s`];
  if (plan.namespace) args.push('--namespace', plan.namespace);
  return args;
}

/** The run command script of a delete: kubectl delete of the part's manifest file. */
export function deleteScript(plan: DeployPlan): string {
  return ['kubectl', ...deleteArgs(plan, 'manifests.yaml')].map(shellWord).join(' ');
}

export function deleteTimeout(plan: DeployPlan): ExplainedError {
  return new ExplainedError({
    what: 'Deleting the manifests',
    reason: `The objects were not gone within rolloutTimeoutSeconds (${plan.rolloutTimeoutSeconds} s): a finalizer is holding one of them.`,
    fix: "Check the objects' finalizers (kubectl get <kind> <name> -o jsonpath='{.metadata.finalizers}'), or raise rolloutTimeoutSeconds.",
    code: 'KUBECTL_TIMEOUT',
  });
}

function row(o: DeletedObject, result: string): string[] {
  return [o.kind, o.namespace ? code(o.namespace) : '', code(o.name), result];
}

/** The log lines, the deletedObjects output and the build summary page of action: delete. */
export function reportDeleted(clusterName: string, route: string, outcome: DeleteOutcome): void {
  tl.setVariable('deletedObjects', JSON.stringify(outcome.deleted), false, true);
  for (const o of outcome.notFound)
    console.log(`Not found (nothing to delete): ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`);
  const markdown = [
    `### ${STATUS_ICON.pass} Deleted ${outcome.deleted.length} object(s) from ${code(clusterName)} (${outcome.notFound.length} not found)`,
    '',
    ...table(
      ['Kind', 'Namespace', 'Name', 'Result'],
      [...outcome.deleted.map((o) => row(o, 'deleted')), ...outcome.notFound.map((o) => row(o, 'not found'))],
    ),
  ].join('\n');
  uploadSummaryPage('private-aks-deploy-summary', 'Private AKS deploy', markdown);
  console.log(`Deleted ${outcome.deleted.length} object(s) from ${clusterName} via ${route}; ${outcome.notFound.length} not found.`);
}
