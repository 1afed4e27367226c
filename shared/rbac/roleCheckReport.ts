/**
 * The role check's report: aligned tables for the log and a Markdown build summary. Pure.
 */
import type { ChecklistItem } from '../posture/hardeningChecklist';
import type { ScopeKind } from './intents';
import type { IntentEvaluation, OperationVerdict } from './intentVerdicts';
import { roleAssignmentCommand, type SuggestedAssignment } from './leastPrivilegedRoles';

export interface ReportContext {
  principalObjectId?: string;
  scopeLabels: Partial<Record<ScopeKind, string>>;
}

const VERDICT_LABEL: Record<OperationVerdict['verdict'], string> = { granted: 'OK', missing: 'MISSING', inCluster: 'IN-CLUSTER' };
const STATUS_LABEL: Record<ChecklistItem['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** Shortens a provider operation for the table (the commands keep full names). */
export function shortOperation(op: string): string {
  return op.replace(/^Microsoft\.ContainerService\/managedClusters\//i, 'managedClusters/').replace(/^Microsoft\.ContainerRegistry\/registries\//i, 'registries/');
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function permissionTableLines(e: IntentEvaluation, ctx: ReportContext): string[] {
  return table(
    ['Intent', 'Permission', 'Type', 'Scope', 'Verdict'],
    e.verdicts.map((v) => [v.intent, shortOperation(v.operation), v.kind === 'action' ? 'action' : 'data action', ctx.scopeLabels[v.scope] ?? v.scope, VERDICT_LABEL[v.verdict] + (v.detail ? ` (${v.detail})` : '')]),
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
  return table(['Check', 'Status', 'Found'], items.map((i) => [`${i.resource}: ${i.title}`, STATUS_LABEL[i.status], i.found]));
}

/** Why and fix for every item that does not pass. */
export function checklistFixLines(items: readonly ChecklistItem[]): string[] {
  return items.filter((i) => i.status !== 'pass').flatMap((i) => [`${STATUS_LABEL[i.status]} ${i.title}: ${i.why}`, `  fix: ${i.fix ?? ''}`]);
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function roleCheckMarkdown(o: {
  identityLines: string[];
  evaluation: IntentEvaluation;
  ctx: ReportContext;
  checklist?: readonly ChecklistItem[];
  score?: number;
  notes: string[];
}): string {
  const { evaluation: e } = o;
  const out: string[] = ['### Service connection role check', '', '```', ...o.identityLines, '```', ''];
  out.push(`**${e.missing.length === 0 ? 'All permissions present' : `${e.missing.length} permission(s) missing`}** for the chosen intents.`, '');
  out.push('| Intent | Permission | Scope | Verdict |', '|---|---|---|---|');
  for (const v of e.verdicts) out.push(`| ${v.intent} | \`${v.operation}\` | ${md(o.ctx.scopeLabels[v.scope] ?? v.scope)} | ${v.verdict === 'granted' ? '✅' : v.verdict === 'missing' ? '❌' : 'ℹ️'} ${VERDICT_LABEL[v.verdict]}${v.detail ? ` (${md(v.detail)})` : ''} |`);
  if (e.assignments.length) {
    out.push('', '#### Least-privileged roles to assign', '');
    for (const a of e.assignments) {
      out.push(`- **${a.role.name}** (\`${a.role.id}\`) at \`${a.scopeId}\`: ${a.operations.map((op) => `\`${op}\``).join(', ')}`);
      for (const n of a.notes) out.push(`  - ${n}`);
      out.push('', '  ```sh', `  ${roleAssignmentCommand(o.ctx.principalObjectId, a)}`, '  ```');
    }
  }
  for (const n of o.notes) out.push('', `> ${n}`);
  if (o.checklist) {
    out.push('', `#### Hardening checklist: score ${o.score}/100`, '', '| Check | Status | Found | Why it matters | Fix |', '|---|---|---|---|---|');
    for (const i of o.checklist) out.push(`| ${i.resource}: ${md(i.title)} | ${i.status === 'pass' ? '✅' : i.status === 'warn' ? '⚠️' : '❌'} ${i.status} | ${md(i.found)} | ${md(i.why)} | ${i.fix ? `\`${md(i.fix)}\`` : ''} |`);
  }
  return out.join('\n') + '\n';
}
