/**
 * The role check's report: aligned tables for the log and a Markdown build summary. Pure.
 */
import type { ChecklistItem } from '../../shared/azure/aks/hardeningChecklist';
import type { ScopeKind } from '../../shared/azure/rbac/intents';
import type { IntentEvaluation, OperationVerdict } from '../../shared/azure/rbac/intentVerdicts';
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import { STATUS_ICON, cell, code, factTable, table, type Status } from '../../shared/pipeline/buildSummary';
import { roleAssignmentCommand, type SuggestedAssignment } from '../../shared/azure/rbac/leastPrivilegedRoles';

export interface ReportContext {
  principalObjectId?: string;
  scopeLabels: Partial<Record<ScopeKind, string>>;
}

const VERDICT_LABEL: Record<OperationVerdict['verdict'], string> = { granted: 'OK', missing: 'MISSING', inCluster: 'IN-CLUSTER' };
const STATUS_LABEL: Record<ChecklistItem['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** Shortens a provider operation for the table (the commands keep full names). */
export function shortOperation(op: string): string {
  return op
    .replace(/^Microsoft\.ContainerService\/managedClusters\//i, 'managedClusters/')
    .replace(/^Microsoft\.ContainerRegistry\/registries\//i, 'registries/');
}

function logTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function permissionTableLines(e: IntentEvaluation, ctx: ReportContext): string[] {
  return logTable(
    ['Intent', 'Permission', 'Type', 'Scope', 'Verdict'],
    e.verdicts.map((v) => [
      v.intent,
      shortOperation(v.operation),
      v.kind === 'action' ? 'action' : 'data action',
      ctx.scopeLabels[v.scope] ?? v.scope,
      VERDICT_LABEL[v.verdict] + (v.detail ? ` (${v.detail})` : ''),
    ]),
  );
}

export function assignmentLines(assignments: readonly SuggestedAssignment[], principalObjectId: string | undefined): string[] {
  const lines: string[] = [];
  for (const a of assignments) {
    lines.push(`${a.role.name} (${a.role.id}) at ${a.scopeId}`);
    lines.push(`  grants: ${a.operations.map(shortOperation).join(', ')}`);
    for (const n of a.notes) lines.push(`  note: ${n}`);
    lines.push(`  ${roleAssignmentCommand(principalObjectId, a)}`);
  }
  return lines;
}

export function checklistTableLines(items: readonly ChecklistItem[]): string[] {
  return logTable(
    ['Check', 'Status', 'Found'],
    items.map((i) => [`${i.resource}: ${i.title}`, STATUS_LABEL[i.status], i.found]),
  );
}

/** Why and fix for every item that does not pass. */
export function checklistFixLines(items: readonly ChecklistItem[]): string[] {
  return items
    .filter((i) => i.status !== 'pass')
    .flatMap((i) => [`${STATUS_LABEL[i.status]} ${i.title}: ${i.why}`, `  fix: ${i.fix ?? ''}`]);
}

/** Which intents need an operation at a scope: one row of the matrix. */
function matrixRows(verdicts: readonly OperationVerdict[]): { v: OperationVerdict; byIntent: Map<string, OperationVerdict> }[] {
  const rows = new Map<string, { v: OperationVerdict; byIntent: Map<string, OperationVerdict> }>();
  for (const v of verdicts) {
    const key = `${v.operation.toLowerCase()}@${v.scopeId.toLowerCase()}`;
    const row = rows.get(key) ?? { v, byIntent: new Map() };
    row.byIntent.set(v.intent, v);
    rows.set(key, row);
  }
  return [...rows.values()];
}

const VERDICT_STATUS: Record<OperationVerdict['verdict'], Status> = { granted: 'pass', missing: 'fail', inCluster: 'info' };
const CHECK_STATUS: Record<ChecklistItem['status'], Status> = { pass: 'pass', warn: 'warn', fail: 'fail' };

/** The build summary: who, the permission matrix (operations by intents), what to assign, the hardening checklist. */
export function roleCheckMarkdown(o: {
  identity: SignedInIdentity;
  intents: readonly string[];
  evaluation: IntentEvaluation;
  ctx: ReportContext;
  checklist?: readonly ChecklistItem[];
  score?: number;
  notes: string[];
}): string {
  const { evaluation: e, identity: id } = o;
  const missing = e.missing.length;
  const failures = o.checklist?.filter((i) => i.status === 'fail').length ?? 0;
  const out: string[] = [
    `### ${missing ? `${STATUS_ICON.fail} ${missing} permission(s) missing` : `${STATUS_ICON.pass} All permissions present`} for ${o.intents.map(code).join(', ')}`,
    '',
    ...factTable([
      ['Signed in as', `${id.identityType} (${id.schemeLabel})`],
      ['Object id', id.objectId ? code(id.objectId) : undefined],
      ['Application (client) id', id.clientId ? code(id.clientId) : undefined],
      ['Tenant', code(id.tenantId)],
      ['Subscription', id.subscriptionId ? `${cell(id.subscriptionName ?? '')} ${code(id.subscriptionId)}`.trim() : undefined],
      ['Federated subject', id.federated?.subject ? code(id.federated.subject) : undefined],
      ['Hardening score', o.score === undefined ? undefined : `**${o.score}/100**${failures ? ` (${failures} failing check(s))` : ''}`],
    ]),
    '',
    '#### Permission matrix',
    '',
    `${STATUS_ICON.pass} granted · ${STATUS_ICON.fail} missing · ${STATUS_ICON.info} decided by RoleBindings inside the cluster · blank: the intent does not need it`,
    '',
  ];
  out.push(
    ...table(
      ['Permission', 'Scope', ...o.intents.map(code)],
      matrixRows(e.verdicts).map(({ v, byIntent }) => [
        `${code(shortOperation(v.operation))}${v.kind === 'dataAction' ? ' (data action)' : ''}`,
        cell(o.ctx.scopeLabels[v.scope] ?? v.scope),
        ...o.intents.map((intent) => {
          const w = byIntent.get(intent);
          return w ? `${STATUS_ICON[VERDICT_STATUS[w.verdict]]}${w.detail ? ` ${cell(w.detail)}` : ''}` : '';
        }),
      ]),
    ),
  );
  if (e.assignments.length) {
    out.push('', '#### Least-privileged roles to assign', '');
    for (const a of e.assignments) {
      out.push(`- **${a.role.name}** at ${code(a.scopeId)}: grants ${a.operations.map((op) => code(shortOperation(op))).join(', ')}`);
      for (const n of a.notes) out.push(`  - ${n}`);
      out.push('', '  ```sh', `  ${roleAssignmentCommand(o.ctx.principalObjectId, a)}`, '  ```');
    }
  }
  if (o.notes.length) out.push('', '#### Notes', '', ...o.notes.map((n) => `- ${n}`));
  if (o.checklist) {
    out.push('', `#### Hardening checklist: score ${o.score}/100`, '');
    out.push(
      ...table(
        ['Status', 'Check', 'Found'],
        o.checklist.map((i) => [
          `${STATUS_ICON[CHECK_STATUS[i.status]]} ${STATUS_LABEL[i.status]}`,
          `${i.resource}: ${cell(i.title)}`,
          cell(i.found),
        ]),
      ),
    );
    const open = o.checklist.filter((i) => i.status !== 'pass');
    if (open.length) {
      out.push('', '##### How to fix', '');
      for (const i of open) {
        out.push(`- ${STATUS_ICON[CHECK_STATUS[i.status]]} **${i.resource}: ${i.title}.** ${i.why}`);
        if (i.fix) out.push('', '  ```sh', `  ${i.fix}`, '  ```');
      }
    }
  }
  return out.join('\n') + '\n';
}
