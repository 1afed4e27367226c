import * as tl from 'azure-pipelines-task-lib/task';
import { explainImagePull, type RegistryForPull } from '../../shared/azure/acr/imagePullDiagnosis';
import { acrLoginServerSuffix } from '../../shared/azure/connection/cloud';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import { diagnoseRollout, evidenceItems, type KubeJson, type RolloutFinding, type WorkloadRef } from '../../shared/kube/rolloutDiagnosis';
import { cell, table } from '../../shared/pipeline/buildSummary';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import { isRolloutKind, namespaceOf, shellWord, type DeployPlan } from './deployPlan';

/**
 * Why a rollout failed, from the cluster's own evidence, on both routes: which kubectl reads collect
 * it (the workloads that did not finish, the ReplicaSets, pods and events of their namespace, and
 * the previous run's last lines of their containers), how run command carries it back between
 * markers, and the task's error built from diagnoseRollout's findings (image pulls refined with
 * explainImagePull for the task's registries and the cluster's kubelet identity).
 */

/** A workload the task waited for, with the label selector its pods carry (for kubectl logs -l). */
export interface UnfinishedWorkload extends WorkloadRef {
  selector?: string;
}

/** What the diagnosis knows of Azure, for image pull findings. */
export interface PullContext {
  registries: RegistryForPull[];
  kubeletObjectId?: string;
  clusterName: string;
}

/** Each evidence read is short: the diagnosis must never hang the task (kubectl's own request timeout). */
export const EVIDENCE_TIMEOUT_SECONDS = 20;
const LOG_TAIL = 20;

/** The workloads of the plan whose rollout the task waits for, with their pods' selector. */
export function unfinishedWorkloads(plan: DeployPlan, refs?: string[]): UnfinishedWorkload[] {
  return plan.objects
    .filter((o) => isRolloutKind(o.kind))
    .filter((o) => !refs || refs.includes(`${o.kind.toLowerCase()}/${o.metadata.name}`))
    .map((o) => {
      const spec = (o as unknown as { spec?: { selector?: { matchLabels?: Record<string, string> } } }).spec;
      const labels = Object.entries(spec?.selector?.matchLabels ?? {});
      return {
        kind: o.kind,
        name: o.metadata.name,
        namespace: namespaceOf(plan, o),
        selector: labels.length ? labels.map(([k, v]) => `${k}=${v}`).join(',') : undefined,
      };
    });
}

/**
 * The kubectl reads, per namespace: one `get` of the workloads' kinds, ReplicaSets, pods and events as JSON
 * (kubectl prints a List), and one `logs --previous --prefix` per workload with a selector (kubectl
 * logs -l: `[pod/<pod>/<container>] <line>`, --ignore-errors so a container without a previous run
 * does not stop the others).
 */
export function evidenceCommands(workloads: UnfinishedWorkload[]): { get: string[][]; logs: string[][] } {
  const namespaces = [...new Set(workloads.map((w) => w.namespace))];
  const timeout = `--request-timeout=${EVIDENCE_TIMEOUT_SECONDS}s`;
  return {
    get: namespaces.map((ns) => {
      // Kinds, not kind/name: kubectl refuses to mix `type/name` with bare types in one get.
      const kinds = [...new Set(workloads.filter((w) => w.namespace === ns).map((w) => `${w.kind.toLowerCase()}s`))];
      return ['get', [...kinds, 'replicasets', 'pods', 'events'].join(','), '--namespace', ns, '-o', 'json', timeout];
    }),
    logs: workloads
      .filter((w) => w.selector)
      .map((w) => [
        'logs',
        '--selector',
        w.selector!,
        '--namespace',
        w.namespace,
        '--all-containers',
        '--previous',
        '--prefix',
        `--tail=${LOG_TAIL}`,
        '--ignore-errors',
        '--max-log-requests=5',
        timeout,
      ]),
  };
}

/** The evidence as kubectl printed it: one JSON List per `get`, the logs' lines. */
export interface CollectedEvidence {
  lists: string[];
  logs: string;
  /** A read that failed (forbidden, timeout): kubectl's last line. */
  unreadable?: string;
}

/** Turns what kubectl printed into diagnoseRollout's evidence. */
export function parseEvidence(collected: CollectedEvidence): { items: KubeJson[]; logs: string } | undefined {
  const items: KubeJson[] = [];
  for (const text of collected.lists) {
    try {
      // Through run command kubectl's stderr shares the log: a warning line may precede the JSON.
      const start = text.search(/^\{/m);
      items.push(...evidenceItems(JSON.parse(start > 0 ? text.slice(start) : text)));
    } catch {
      return undefined;
    }
  }
  return items.length ? { items, logs: collected.logs } : undefined;
}

// Markers around the evidence in the run command's log: unique, so a workload's own output cannot fake them.
const BEGIN = '=====private-aks-deploy:rollout-evidence:begin=====';
const LIST = '=====private-aks-deploy:rollout-evidence:list=====';
const LOGS = '=====private-aks-deploy:rollout-evidence:logs=====';
const FAILED = '=====private-aks-deploy:rollout-evidence:unreadable=====';
const END = '=====private-aks-deploy:rollout-evidence:end=====';

/**
 * The bash the run command script runs after a failed rollout wait (runCommandScript.ts), in the same
 * invocation: the evidence reads between markers. Only kubectl and echo, which the run command image
 * has; kubectl's error goes to the same log for the unreadable case. It keeps no exit code of its own:
 * the script exits with the wait's.
 */
export function evidenceCollection(workloads: UnfinishedWorkload[]): string {
  const { get, logs } = evidenceCommands(workloads);
  const q = (args: string[]) => ['kubectl', ...args].map(shellWord).join(' ');
  const gets = get.map((args) => `echo ${LIST}; ${q(args)} 2>&1 || echo ${FAILED}`);
  const logReads = logs.map((args) => `${q(args)} 2>/dev/null`);
  return `echo ${BEGIN}; ${gets.join('; ')}; echo ${LOGS}; ${logReads.length ? `${logReads.join('; ')}; ` : ''}echo ${END}`;
}

/** Splits the run command's log into what the user sees and the evidence block (when the rollout failed). */
export function splitRunCommandLog(logs: string): { shown: string; evidence?: CollectedEvidence } {
  const begin = logs.indexOf(`${BEGIN}\n`);
  if (begin < 0) return { shown: logs };
  const endAt = logs.indexOf(END, begin);
  const block = logs.slice(begin + BEGIN.length + 1, endAt < 0 ? undefined : endAt);
  const shown = logs.slice(0, begin) + (endAt < 0 ? '' : logs.slice(endAt + END.length).replace(/^\n/, ''));
  const [listsPart, logsPart = ''] = block.split(`${LOGS}\n`);
  const evidence: CollectedEvidence = { lists: [], logs: logsPart };
  for (const chunk of listsPart.split(`${LIST}\n`).slice(1)) {
    if (chunk.includes(FAILED)) {
      evidence.unreadable = chunk.replace(FAILED, '').trim().split('\n').pop();
      continue;
    }
    evidence.lists.push(chunk);
  }
  if (endAt < 0) evidence.unreadable ??= 'the run command log was cut short';
  return { shown, evidence };
}

/** A finding with what the Azure side adds: an image pull on an ACR says why the registry refused. */
export interface ExplainedFinding extends Omit<RolloutFinding, 'code'> {
  code: RolloutFinding['code'] | ReturnType<typeof explainImagePull>['code'];
}

export function diagnose(
  workloads: UnfinishedWorkload[],
  evidence: { items: KubeJson[]; logs: string },
  pull: PullContext,
): ExplainedFinding[] {
  return workloads.flatMap((w) =>
    diagnoseRollout(w, evidence).map((f): ExplainedFinding => {
      if (f.code !== 'IMAGE_PULL_FAILED' || !f.image) return f;
      const why = explainImagePull(f.image, f.message, pull);
      return { ...f, code: why.code, reason: why.reason, fix: why.fix };
    }),
  );
}

/** One finding in one or two lines: where, then why. */
export function findingLine(f: ExplainedFinding): string {
  const where = [f.workload, f.pod && `pod ${f.pod}`, f.container && `container ${f.container}`].filter(Boolean).join(', ');
  return `[${f.code}] ${where}: ${f.reason}`;
}

/** The build summary section: every finding with its fix. */
export function findingsMarkdown(clusterName: string, findings: ExplainedFinding[]): string {
  return [
    `## Why the rollout failed`,
    '',
    `The rollout on \`${clusterName}\` did not finish. What the cluster's own evidence (pods, ReplicaSets, events, logs) shows:`,
    '',
    ...table(
      ['Finding', 'Where', 'Why', 'Fix'],
      findings.map((f) => [
        `❌ ${f.code}`,
        cell([f.workload, f.pod, f.container].filter(Boolean).join(' / ')),
        cell(f.reason),
        cell(f.fix),
      ]),
    ),
    '',
  ].join('\n');
}

/**
 * The rollout's failure, explained: the top finding's code, reason and fix, every finding in the log
 * and on the summary page. Without evidence (unreadable) or findings, the original failure stands.
 */
export function explainRolloutFailure(
  original: unknown,
  workloads: UnfinishedWorkload[],
  collected: CollectedEvidence | undefined,
  pull: PullContext,
  summary: (markdown: string) => void,
): unknown {
  if (!collected) return original;
  const evidence = parseEvidence(collected);
  if (!evidence) {
    const why = collected.unreadable ?? 'kubectl printed no readable evidence';
    console.log(`Could not read the cluster's evidence of why the rollout failed (${neutralizeLoggingCommands(why.slice(0, 300))}).`);
    return original;
  }
  const findings = diagnose(workloads, evidence, pull);
  if (findings.length === 0) {
    console.log("The cluster's evidence (pods, ReplicaSets, events) shows no error for the rollout.");
    return original;
  }
  console.log('Why the rollout failed:');
  for (const f of findings) {
    console.log(`  ${neutralizeLoggingCommands(findingLine(f))}`);
    for (const line of f.lastLogLines?.slice(-5) ?? []) console.log(`    | ${neutralizeLoggingCommands(line)}`);
  }
  summary(findingsMarkdown(pull.clusterName, findings));
  const top = findings[0];
  const more = findings.length > 1 ? ` (${findings.length - 1} more finding(s) in the log)` : '';
  tl.debug(`rollout diagnosis: ${findings.map((f) => f.code).join(', ')}`);
  return new ExplainedError(
    { what: `Rolling out ${top.workload}`, reason: `${top.reason}${more}`, fix: top.fix, code: top.code },
    { cause: original },
  );
}

/**
 * The task's registries (registryName input) and the cluster's kubelet identity, for image pull
 * findings: the registry's login server in the connection's cloud (cloud.ts, acrLoginServerSuffix),
 * and its resource id when the preflight read it through Resource Manager, so the AcrPull fix names
 * its scope instead of an `az acr show` to find it.
 */
export function pullContextOf(
  facts: ClusterFacts,
  registryName: string | undefined,
  registry: { environment?: string; resourceId?: string } = {},
): PullContext {
  const suffix = acrLoginServerSuffix(registry.environment ?? 'AzureCloud');
  return {
    registries: registryName ? [{ loginServer: `${registryName.toLowerCase()}.${suffix}`, resourceId: registry.resourceId }] : [],
    kubeletObjectId: facts.kubeletObjectId,
    clusterName: facts.name,
  };
}
