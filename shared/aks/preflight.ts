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

/** The preflight for the log: per endpoint, one row per step, then the verdict with its fix. */
export function preflightTableLines(outcomes: PreflightOutcome[]): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    lines.push(`${o.target.probe.label} ${o.target.probe.host}:${o.target.probe.port}`);
    for (const step of o.result.steps) {
      const detail = (step.errorCode && !step.ok ? `${step.errorCode}: ` : '') + step.detail.split('\n')[0].slice(0, 120);
      lines.push(`  ${STEP_LABEL[step.step].padEnd(7)}  ${(step.ok ? 'pass' : 'FAIL').padEnd(4)}  ${`${step.ms} ms`.padStart(8)}  ${detail}`);
    }
    lines.push(`  ${o.diagnosis.ok ? '✔' : '✖'} ${o.diagnosis.reason}${o.diagnosis.fix ? ` Fix: ${o.diagnosis.fix}` : ''}`);
  }
  return lines;
}
