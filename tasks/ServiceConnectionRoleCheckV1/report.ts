import * as tl from 'azure-pipelines-task-lib/task';
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import { uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import type { IntentEvaluation } from '../../shared/azure/rbac/intentVerdicts';
import {
  assignmentLines,
  checklistFixLines,
  checklistTableLines,
  permissionTableLines,
  roleCheckMarkdown,
  type ReportContext,
} from './roleCheckReport';
import type { Hardening } from './hardeningCheck';
import type { RoleCheckOptions } from './inputs';

export interface RoleCheckFindings {
  identity: SignedInIdentity;
  evaluation: IntentEvaluation;
  context: ReportContext;
  resourceGroupLine: string;
  notes: string[];
  hardening?: Hardening;
}

/** Set as soon as the identity is known, so that a later failure still leaves it for the next steps. */
export function reportIdentity(identity: SignedInIdentity): void {
  if (identity.objectId) tl.setVariable('principalObjectId', identity.objectId, false, true);
}

/** The log, the output variables and the build summary; then the verdict `failOn` asks for. */
export function reportRoleCheck(o: RoleCheckOptions, f: RoleCheckFindings): void {
  const { evaluation } = f;
  console.log('');
  console.log(`Effective permissions (ARM permissions API, group memberships and custom roles included) for: ${o.intents.join(', ')}`);
  for (const line of permissionTableLines(evaluation, f.context)) console.log(`  ${line}`);
  console.log(`  ${f.resourceGroupLine}`);
  if (evaluation.assignments.length) {
    console.log('');
    console.log(`Missing: ${evaluation.missing.length} permission(s). Least-privileged built-in roles that grant them:`);
    for (const line of assignmentLines(evaluation.assignments, f.context.principalObjectId)) console.log(`  ${line}`);
  } else {
    console.log(
      evaluation.missing.length ? `Missing: ${evaluation.missing.length} permission(s).` : 'All permissions the intents need are present.',
    );
  }
  for (const m of evaluation.unmatched) console.log(`  No curated role for ${m.operation} at ${m.scopeId}: grant it with a custom role.`);
  for (const n of f.notes) tl.warning(neutralizeLoggingCommands(n));
  tl.setVariable('missingPermissionCount', String(evaluation.missing.length), false, true);

  if (f.hardening) {
    console.log('');
    console.log(`Hardening checklist (score ${f.hardening.score}/100):`);
    for (const line of checklistTableLines(f.hardening.checklist)) console.log(`  ${line}`);
    for (const line of checklistFixLines(f.hardening.checklist)) console.log(`  ${line}`);
    tl.setVariable('postureScore', String(f.hardening.score), false, true);
  }

  uploadSummaryPage(
    'service-connection-role-check',
    'Service connection role check',
    roleCheckMarkdown({
      identity: f.identity,
      intents: o.intents,
      evaluation,
      ctx: f.context,
      checklist: f.hardening?.checklist,
      score: f.hardening?.score,
      notes: [f.resourceGroupLine, ...f.notes],
    }),
  );
  failIfAsked(o, f);
}

function failIfAsked(o: RoleCheckOptions, { evaluation, hardening }: RoleCheckFindings): void {
  if (o.failOn !== 'never' && evaluation.missing.length > 0) {
    throw new ExplainedError({
      what: "Checking the connection's permissions",
      reason: `${evaluation.missing.length} permission(s) the intents ${o.intents.join(', ')} need are missing (${evaluation.missing.map((m) => m.operation.split('/').slice(-2).join('/')).join(', ')}).`,
      fix: evaluation.assignments.length
        ? `Assign ${evaluation.assignments.map((a) => `'${a.role.name}' at ${a.scopeId}`).join(' and ')} (commands in the log and the summary).`
        : 'Grant them with a custom role.',
      code: 'MISSING_PERMISSIONS',
    });
  }
  const failures = hardening?.checklist.filter((i) => i.status === 'fail') ?? [];
  if (o.failOn === 'postureFailures' && failures.length > 0) {
    throw new ExplainedError({
      what: 'Checking the hardening of the cluster and registry',
      reason: `${failures.length} check(s) failed: ${failures.map((f) => f.title).join(', ')}.`,
      fix: 'Apply the fix commands in the log and the summary, or set failOn to missingPermissions.',
      code: 'POSTURE_FAILURES',
    });
  }
}
