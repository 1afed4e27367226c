import { probeEndpoint, type EndpointProbe, type EndpointResult } from '../net/lineOfSight';
import { diagnoseLineOfSight, type DiagnosisContext, type LineOfSightDiagnosis } from '../net/lineOfSightDiagnosis';

export interface PreflightTarget {
  probe: EndpointProbe;
  context: DiagnosisContext;
}

export interface PreflightOutcome {
  target: PreflightTarget;
  result: EndpointResult;
  diagnosis: LineOfSightDiagnosis;
}

/** Probes every endpoint at once, each step of each with its own deadline, and diagnoses each. */
export async function runPreflight(targets: PreflightTarget[], stepDeadlineMs: number): Promise<PreflightOutcome[]> {
  return Promise.all(
    targets.map(async (target) => {
      const result = await probeEndpoint(target.probe, stepDeadlineMs);
      return { target, result, diagnosis: diagnoseLineOfSight(result, target.context) };
    }),
  );
}

const STEP_LABEL = { dns: 'DNS', tcp: 'TCP 443', tls: 'TLS', http: 'HTTP' } as const;

/** The preflight as a table for the log: one row per endpoint and step, then the verdict with its fix. */
export function preflightTableLines(outcomes: PreflightOutcome[]): string[] {
  const rows: string[][] = [['Endpoint', 'Step', 'Result', 'Time', 'Detail']];
  for (const o of outcomes) {
    for (const step of o.result.steps) {
      rows.push([`${o.target.probe.label} ${o.target.probe.host}`, STEP_LABEL[step.step], step.ok ? 'pass' : 'FAIL', `${step.ms} ms`, (step.errorCode && !step.ok ? `${step.errorCode}: ` : '') + step.detail.split('\n')[0].slice(0, 100)]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  for (const o of outcomes) {
    lines.push(`${o.diagnosis.ok ? '✔' : '✖'} ${o.diagnosis.reason}${o.diagnosis.fix ? ` Fix: ${o.diagnosis.fix}` : ''}`);
  }
  return lines;
}

/** The preflight as Markdown for the build summary. */
export function preflightMarkdown(outcomes: PreflightOutcome[]): string {
  const lines = ['| Endpoint | DNS | TCP 443 | TLS | HTTP | Verdict |', '|---|---|---|---|---|---|'];
  for (const o of outcomes) {
    const cell = (step: string) => {
      const s = o.result.steps.find((x) => x.step === step);
      return s ? (s.ok ? `✅ ${s.ms} ms` : `❌ ${s.errorCode ?? ''}`) : '—';
    };
    lines.push(`| ${o.target.probe.label}<br>\`${o.target.probe.host}\` | ${cell('dns')} | ${cell('tcp')} | ${cell('tls')} | ${cell('http')} | ${o.diagnosis.ok ? 'reachable' : `**${o.diagnosis.code}**: ${o.diagnosis.reason} ${o.diagnosis.fix}`} |`);
  }
  return lines.join('\n');
}
