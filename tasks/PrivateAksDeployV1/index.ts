import * as os from 'os';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { ClusterAccess, clusterResourceId, clusterTargetFromInputs } from '../../shared/azure/aks/clusterAccess';
import { clusterFactsLines } from '../../shared/azure/aks/clusterFacts';
import { appliedObjects } from './deployPlan';
import { deployDirect } from './directRoute';
import { planFromInputs } from './planFromInputs';
import { blockedSummaryMarkdown, deploySummaryMarkdown } from './deploySummary';
import { preflightTableLines, runPreflight, type PreflightOutcome, type PreflightTarget } from './preflight';
import { deployThroughRunCommand } from './runCommandRoute';
import { printSignedIn, signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import { apiServerOf, usesEntraExec, withExecCredential, writeKubeconfig } from '../../shared/kube/kubeconfig';
import { explainKubectlFailure } from '../../shared/kube/kubectlErrors';
import { locateKubectl } from '../../shared/kube/kubectl';
import { kubeloginCredential } from '../../shared/azure/aks/kubeloginCredential';
import { startTokenBroker } from '../../shared/azure/aks/tokenBroker';
import { validateResourceName } from '../../shared/azure/arm/resourceId';
import { aksApiServerProbe, registryDataEndpointProbe, registryEndpoints, registryProbe } from '../../shared/lineOfSight/probeTargets';
import { uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import { onTaskEnd, runTask } from '../../shared/pipeline/runTask';
import { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { booleanInput, choiceInput, integerInput, optionalInput } from '../../shared/pipeline/taskInputs';

void runTask('PrivateAksDeploy', async () => {
  const timings = new PhaseTimings();
  const tempDir = tl.getVariable('Agent.TempDirectory') || os.tmpdir();
  const sourcesDirectory = tl.getVariable('System.DefaultWorkingDirectory') || process.cwd();
  const route = choiceInput('route', ['auto', 'direct', 'runCommand'] as const, 'auto');
  const useAdmin = booleanInput('useAdminCredentials', false);
  const probeTimeoutMs = integerInput('probeTimeoutSeconds', 10, 1, 120) * 1000;
  const registryNameInput = optionalInput('registryName');
  const registryName = registryNameInput ? validateResourceName('registryName', 'registry', registryNameInput) : undefined;
  const credentialHelper = choiceInput('credentialHelper', ['builtIn', 'kubelogin'] as const, 'builtIn');
  const kubeloginMode = choiceInput('kubeloginLoginMode', ['azurepipelines', 'workloadidentity', 'spn', 'msi'] as const, 'azurepipelines');
  let kubectlPath: string | undefined;
  const kubectl = () => (kubectlPath ??= locateKubectl(optionalInput('kubectlPath')));
  // A kubectlPath that was given is checked with the other inputs, before anything signs in.
  if (optionalInput('kubectlPath')) kubectl();
  // Sign-in and the cluster reads go on while the manifests are parsed (the parser gives them the
  // event loop's turns), but the inputs still come first for the author: nothing of Azure's is
  // printed, and no process started, until they passed, and a bad input fails with its own error.
  const planning = timings.time('inputs', () => planFromInputs({ sourcesDirectory, tempDir, kubectl }));
  const reading = (async () => {
    const { cc, identity } = await timings.time('sign-in', () => signInWithTaskConnection({ quiet: true }));
    const target = clusterTargetFromInputs(cc.connection.subscriptionId);
    const access = new ClusterAccess(cc, target, identity.objectId);
    // Read one after the other on purpose: at once, the second read opens a second TLS connection to
    // Resource Manager, which cost more than the reused one saves (bench: 59 ms at once, 37 ms in turn).
    const facts = await timings.time('cluster', () => access.facts());
    // The admin credential only once the cluster has been seen to allow it (below).
    const userKubeconfig = route === 'runCommand' || useAdmin ? undefined : timings.time('credential', () => access.kubeconfig(false));
    userKubeconfig?.catch(() => undefined); // awaited below, after the cluster's facts are printed
    return { cc, identity, target, access, facts, userKubeconfig };
  })();
  reading.catch(() => undefined); // awaited below, after the inputs
  const plan = await planning;
  console.log(`${plan.objects.length} object(s) to apply.`);

  const { cc, identity, target, access, facts, userKubeconfig } = await reading;
  printSignedIn(identity);
  console.log('Cluster:');
  for (const line of clusterFactsLines(facts)) console.log(`  ${neutralizeLoggingCommands(line)}`);
  if (useAdmin && facts.localAccountsDisabled) {
    throw new ExplainedError({
      what: 'Getting the cluster admin credential',
      reason: `'${facts.name}' disables local accounts, so AKS hands out no admin credential.`,
      fix: 'Leave useAdminCredentials off: the task deploys with an Entra ID token and the cluster user credential.',
      code: 'LOCAL_ACCOUNTS_DISABLED',
    });
  }
  // Run command needs no kubeconfig (az aks command invoke asks for none): only the direct attempt
  // fetches one, so route runCommand works with the run command actions alone.
  const kubeconfig =
    route === 'runCommand' ? undefined : useAdmin ? await timings.time('credential', () => access.kubeconfig(true)) : await userKubeconfig;
  const server: ReturnType<typeof apiServerOf> = kubeconfig
    ? apiServerOf(kubeconfig)
    : { server: `https://${facts.apiServerHost ?? facts.name}:443` };

  // The built-in helper's broker starts before the preflight, and its first AKS token is asked
  // for while the probes run: kubectl's exec plugin then finds it ready.
  const broker =
    kubeconfig && route !== 'runCommand' && usesEntraExec(kubeconfig) && credentialHelper === 'builtIn'
      ? await timings.time('token broker', () => startTokenBroker(cc, { prefetch: true }))
      : undefined;
  if (broker) onTaskEnd(() => broker.close());

  let outcomes: PreflightOutcome[] = [];
  let chosen: 'direct' | 'runCommand' = route === 'runCommand' ? 'runCommand' : 'direct';
  if (kubeconfig) {
    console.log('Line of sight from this agent:');
    const apiServer = aksApiServerProbe(server, facts);
    const registryTargets: PreflightTarget[] = [];
    if (registryName) {
      const endpoints = await timings.time('registry', () =>
        registryEndpoints(cc, target.subscriptionId, target.resourceGroup, registryName),
      );
      registryTargets.push(
        registryProbe(registryName, cc.connection.cloud.environment, endpoints.loginServer),
        ...endpoints.dataEndpoints.map((host) => registryDataEndpointProbe(registryName, host)),
      );
    }
    outcomes = await timings.time('preflight', () => runPreflight([apiServer, ...registryTargets], probeTimeoutMs));
    for (const line of preflightTableLines(outcomes)) console.log(`  ${neutralizeLoggingCommands(line)}`);
    for (const o of outcomes.slice(1))
      if (!o.diagnosis.ok) tl.warning(neutralizeLoggingCommands(`${o.diagnosis.reason} Fix: ${o.diagnosis.fix}`));
    // The route depends on the API server; the registry matters to whoever pushes and pulls images.
    const reachable = outcomes[0].diagnosis.ok;
    if (!reachable && route === 'direct') {
      // The checks and their fixes are what the author needs now: on the run's page, not only in the log.
      uploadSummaryPage('private-aks-deploy-summary', 'Private AKS deploy', blockedSummaryMarkdown(facts, outcomes));
      const d = outcomes.find((o) => !o.diagnosis.ok)!.diagnosis;
      throw new ExplainedError({
        what: `Reaching the API server of '${facts.name}' from this agent`,
        reason: d.reason,
        fix: d.fix,
        code: d.code,
      });
    }
    if (!reachable) {
      chosen = 'runCommand';
      console.log(`No line of sight to the API server: deploying through AKS run command instead (route: auto).`);
    }
  }
  tl.setVariable('lineOfSight', outcomes.length === 0 ? 'skipped' : outcomes.every((o) => o.diagnosis.ok) ? 'pass' : 'fail', false, true);

  const failureContext = {
    server: server.server,
    clusterName: facts.name,
    namespace: plan.namespace,
    principalObjectId: identity.objectId,
    clusterResourceId: clusterResourceId(target),
    azureRbac: facts.azureRbac,
  };
  if (chosen === 'direct' && kubeconfig) {
    let env: Record<string, string> = {};
    let config = kubeconfig;
    if (usesEntraExec(kubeconfig) && credentialHelper === 'kubelogin') {
      const kubelogin = kubeloginCredential(cc.connection, kubeloginMode);
      env = kubelogin.env;
      config = withExecCredential(kubeconfig, kubelogin.exec);
    } else if (broker) {
      env = broker.env;
      config = withExecCredential(kubeconfig, { command: process.execPath, args: [path.join(__dirname, 'execCredential.js')] });
    } else if (!useAdmin) {
      tl.warning(
        `'${facts.name}' has no Entra ID integration: deploying with its local user credential. Enable Entra ID integration and disable local accounts to deploy with short-lived tokens.`,
      );
    }
    const written = writeKubeconfig(tempDir, config);
    onTaskEnd(() => written.remove());
    await deployDirect(plan, { kubectl: kubectl(), kubeconfigPath: written.path, env, failureContext, applyDeadlineMs: 300_000, timings });
  } else {
    // A token still on its way to the broker is the one run command takes from the credential's cache.
    await broker?.prefetched;
    const outcome = await timings.time('run command', () =>
      deployThroughRunCommand(cc, access, facts, plan, (plan.rolloutTimeoutSeconds + 120) * 1000, identity.objectId),
    );
    for (const line of outcome.logs.split(/\r\n|\r|\n/)) if (line) console.log(`  [run command] ${neutralizeLoggingCommands(line)}`);
    if (outcome.exitCode !== 0) {
      const explained = explainKubectlFailure(outcome.logs, { ...failureContext, intent: 'write' });
      throw new ExplainedError(
        explained
          ? { what: 'Deploying through AKS run command', ...explained }
          : {
              what: 'Deploying through AKS run command',
              reason: `The command exited with ${outcome.exitCode}.`,
              fix: 'See the run command log above.',
              code: 'RUN_COMMAND_FAILED',
            },
      );
    }
  }

  const applied = appliedObjects(plan);
  tl.setVariable('appliedObjects', JSON.stringify(applied), false, true);
  tl.setVariable('route', chosen, false, true);
  const credential =
    chosen === 'runCommand'
      ? facts.entraIntegration
        ? credentialHelper
        : 'local'
      : !usesEntraExec(kubeconfig!)
        ? 'local'
        : credentialHelper;
  await timings.time('summary', () =>
    uploadSummaryPage(
      'private-aks-deploy-summary',
      'Private AKS deploy',
      deploySummaryMarkdown({ facts, identity, plan, applied, requestedRoute: route, chosenRoute: chosen, credential, outcomes }),
    ),
  );
  console.log(`Applied ${applied.length} object(s) to ${facts.name} via ${chosen}.`);
  console.log(timings.line());
});
