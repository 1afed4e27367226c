import { apiServerOf } from '../../shared/kube/kubeconfig';
import { locateKubectl } from '../../shared/kube/kubectl';
import { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { buildDeployPlan } from './buildPlan';
import { reportDeleted } from './deleteManifests';
import { directRoute } from './directRoute';
import type { DeployOptions } from './inputs';
import { checkLineOfSight } from './preflight';
import { reportPreview } from './previewReport';
import { reportCluster, reportDeployed, reportLineOfSight, reportPlan, reportRoute } from './report';
import { chooseRoute, type DeployRoute, type RouteContext } from './route';
import { runCommandRoute } from './runCommandRoute';
import { clusterKubeconfig, openSession, tokenBrokerFor } from './session';

/**
 * The job: the plan (manifests parsed) while signing in and reading the cluster, then the line of
 * sight, the route it allows, the deployment through that route, and the report.
 *
 * Sign-in and the cluster reads go on while the manifests are parsed (the parser gives them the
 * event loop's turns), but the inputs still come first for the author: they were read and checked
 * before this runs, and nothing of Azure's is printed until the plan is ready, so a bad manifest
 * fails with its own error.
 */
export async function deploy(o: DeployOptions): Promise<void> {
  const timings = new PhaseTimings();
  let kubectlPath: string | undefined;
  const kubectl = () => (kubectlPath ??= locateKubectl(o.kubectlPath));
  const planning = timings.time('inputs', () => buildDeployPlan(o, kubectl));
  const opening = openSession(o, timings);
  opening.catch(() => undefined); // awaited below, after the plan
  const plan = await planning;
  reportPlan(plan, o.action);

  const session = await opening;
  reportCluster(session.identity, session.facts);
  const kubeconfig = await clusterKubeconfig(o, session, timings);
  const broker = await tokenBrokerFor(o, session, kubeconfig, timings);
  const api = kubeconfig ? apiServerOf(kubeconfig) : { server: `https://${session.facts.apiServerHost ?? session.facts.name}:443` };
  // The registry's resource id, when the preflight read the registry through Resource Manager: the image pull findings' scope.
  const { outcomes, registryResourceId } = kubeconfig
    ? await checkLineOfSight(session, api, o, timings)
    : { outcomes: [], registryResourceId: undefined };
  const chosen = chooseRoute(o.route, outcomes);
  reportLineOfSight(session.facts, outcomes, chosen, o.route);

  const context: RouteContext = { ...session, options: o, server: api.server, kubeconfig, broker, kubectl, timings, registryResourceId };
  const route: DeployRoute = chosen === 'direct' && kubeconfig ? directRoute({ ...context, kubeconfig }) : runCommandRoute(context);
  if (o.action === 'delete') reportDeleted(session.facts.name, route.name, await route.delete(plan));
  else if (o.action === 'preview')
    await reportPreview({ facts: session.facts, plan, route: route.name }, await route.preview(plan), timings);
  else {
    const changes = await route.deploy(plan);
    await reportDeployed({ ...session, plan, requestedRoute: o.route, route, changes }, outcomes, timings);
  }
  reportRoute(route.name);
}
