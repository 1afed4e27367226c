import { probeEndpoint, type EndpointResult } from '../../shared/lineOfSight/lineOfSight';
import { diagnoseLineOfSight, type LineOfSightDiagnosis, type PreflightTarget } from '../../shared/lineOfSight/lineOfSightDiagnosis';
import { agentRouteTo } from '../../shared/net/agentHttpSettings';
import type { ClusterTarget } from '../../shared/azure/aks/clusterAccess';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import {
  aksApiServerProbe,
  registryDataEndpointProbe,
  registryEndpoints,
  registryProbe,
  type ApiServerAddress,
} from '../../shared/lineOfSight/probeTargets';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';

export type { PreflightTarget };

export interface PreflightOutcome {
  target: PreflightTarget;
  result: EndpointResult;
  diagnosis: LineOfSightDiagnosis;
}

/**
 * Probes every endpoint at once, each step of each with its own deadline, and diagnoses each. Each
 * probe takes the way kubectl will: through the agent's proxy unless its bypass list names the host.
 */
export async function runPreflight(targets: PreflightTarget[], stepDeadlineMs: number): Promise<PreflightOutcome[]> {
  return Promise.all(
    targets.map(async (target) => {
      const routed = {
        ...target,
        probe: { ...target.probe, route: target.probe.route ?? agentRouteTo(target.probe.host, target.probe.port) },
      };
      const result = await probeEndpoint(routed.probe, stepDeadlineMs);
      return { target: routed, result, diagnosis: diagnoseLineOfSight(result, routed.context) };
    }),
  );
}

/**
 * The line of sight the deployment needs: the API server (first: the route depends on it), then,
 * when registryName is set, the registry's login server and data endpoints (they matter to whoever
 * pushes and pulls images).
 */
export async function checkLineOfSight(
  session: { cc: ConnectionCredential; target: ClusterTarget; facts: ClusterFacts },
  api: ApiServerAddress,
  o: { registryName?: string; probeTimeoutMs: number },
  timings: PhaseTimings,
): Promise<{ outcomes: PreflightOutcome[]; registryResourceId?: string }> {
  const { cc, target, facts } = session;
  const targets = [aksApiServerProbe(api, facts)];
  let registryResourceId: string | undefined;
  if (o.registryName) {
    const registryName = o.registryName;
    const endpoints = await timings.time('registry', () =>
      registryEndpoints(cc, target.subscriptionId, target.resourceGroup, registryName),
    );
    registryResourceId = endpoints.id;
    targets.push(
      registryProbe(registryName, cc.connection.cloud.environment, endpoints.loginServer),
      ...endpoints.dataEndpoints.map((host) => registryDataEndpointProbe(registryName, host)),
    );
  }
  return { outcomes: await timings.time('preflight', () => runPreflight(targets, o.probeTimeoutMs)), registryResourceId };
}

const STEP_LABEL = { dns: 'DNS', tcp: 'TCP 443', tls: 'TLS', http: 'HTTP' } as const;

/** Which way a probe went, for the table's header line (never the proxy's credentials). */
export function probeRouteText(o: PreflightOutcome): string {
  const route = o.target.probe.route;
  if (route?.kind === 'proxy') return `via proxy ${new URL(route.proxy.proxyUrl).host}`;
  return route?.kind === 'bypass' ? 'direct (bypass)' : 'direct';
}

/** The preflight for the log: per endpoint, one row per step, then the verdict with its fix. */
export function preflightTableLines(outcomes: PreflightOutcome[]): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    lines.push(`${o.target.probe.label} ${o.target.probe.host}:${o.target.probe.port} (${probeRouteText(o)})`);
    for (const step of o.result.steps) {
      const label = step.step === 'tcp' && o.target.probe.route?.kind === 'proxy' ? 'CONNECT' : STEP_LABEL[step.step];
      const detail = (step.errorCode && !step.ok ? `${step.errorCode}: ` : '') + step.detail.split('\n')[0].slice(0, 120);
      lines.push(`  ${label.padEnd(7)}  ${(step.ok ? 'pass' : 'FAIL').padEnd(4)}  ${`${step.ms} ms`.padStart(8)}  ${detail}`);
    }
    lines.push(`  ${o.diagnosis.ok ? '✔' : '✖'} ${o.diagnosis.reason}${o.diagnosis.fix ? ` Fix: ${o.diagnosis.fix}` : ''}`);
  }
  return lines;
}
