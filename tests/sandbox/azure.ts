/**
 * The Azure side of the sandbox, wired together: Resource Manager over the scenario's state, one
 * private AKS API server per cluster (its kubeconfig endpoint and run command come from there),
 * and one ACR data endpoint per registry whose firewall follows the state ARM edits.
 */
import { AcrDataEndpoint } from './acr/acrDataEndpoint';
import { acrPullVerdict } from './acr/acrPull';
import { AksApiServer } from './kubernetes/aksApiServer';
import { AuthorizedRangesGate } from './kubernetes/authorizedRangesGate';
import { ArmService } from './arm/arm';
import { armStateFor, type ArmState } from './arm/armState';
import type { SandboxContext } from './index';
import { runCommand } from './kubernetes/runCommand';

export interface SandboxAzure {
  state: ArmState;
  arm: ArmService;
  clusters: Map<string, AksApiServer>;
  registries: Map<string, AcrDataEndpoint>;
  /** Public clusters: the API server behind its authorized-IP-range filter (reach it on this port as the agent). */
  publicGates: Map<string, AuthorizedRangesGate>;
  close(): Promise<void>;
}

export async function startAzure(context: SandboxContext, tempRoot: string): Promise<SandboxAzure> {
  const state = armStateFor(context.scenario);
  const clusters = new Map<string, AksApiServer>();
  const registries = new Map<string, AcrDataEndpoint>();
  const publicGates = new Map<string, AuthorizedRangesGate>();
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    await Promise.allSettled(closers.splice(0).map((c) => c()));
  };
  try {
    for (const record of state.clusters) {
      const spec = (context.scenario.azure?.clusters ?? []).find((c) => c.name === record.name)!;
      const server = await AksApiServer.start(context, spec, {
        authorize: (oid, action, scope) => state.isAllowed(oid, action, scope, 'dataAction'),
        clusterResourceId: record.id,
        privateFqdn: (record.privateFqdn ?? record.fqdn)!,
        publicFqdn: record.privateFqdn ? record.fqdn : undefined,
        pullImage: (image) =>
          acrPullVerdict({ state, cluster: spec, registries, registrySpecs: context.scenario.azure?.registries ?? [] }, image),
        kubernetesVersion: () => state.cluster(record.name).kubernetesVersion,
      });
      clusters.set(record.name, server);
      closers.push(() => server.close());
      if (!record.enablePrivateCluster) {
        const gate = await AuthorizedRangesGate.start({
          targetPort: server.port,
          ranges: () => {
            const c = state.cluster(record.name);
            return { current: c.authorizedIpRanges, previous: c.previousAuthorizedIpRanges, changedAt: c.lastNetworkChangeAt.getTime() };
          },
          agentEgressIp: () => state.network.agentEgressIp,
          propagationSeconds: spec.authorizedIpRangesPropagationSeconds ?? 2,
        });
        publicGates.set(record.name, gate);
        closers.push(() => gate.close());
      }
    }
    for (const record of state.registries) {
      const endpoint = await AcrDataEndpoint.start({
        registryName: record.name,
        location: record.location,
        getRegistry: () => state.registryNetworkState(record.name),
        context,
        agentEgressIp: () => state.network.agentEgressIp,
      });
      registries.set(record.name, endpoint);
      closers.push(() => endpoint.close());
    }
    const arm = await ArmService.start({
      ...context,
      state,
      clusterEndpoint: (name, hint) => {
        const server = clusters.get(name)!;
        return { ...server.endpoint(hint.kind), staticUserToken: server.staticUserToken, staticAdminToken: server.staticAdminToken };
      },
      runCommand: (name, request) => runCommand(clusters.get(name)!, request, { tempRoot }),
    });
    closers.push(() => arm.close());
    return { state, arm, clusters, registries, publicGates, close };
  } catch (err) {
    await close();
    throw err;
  }
}
