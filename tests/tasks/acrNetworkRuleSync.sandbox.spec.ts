import * as assert from 'assert';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { startSandbox, type Sandbox } from '../sandbox';
import type { RegistrySpec } from '../sandbox/azureResources';
import { startRecordingProxy, type RecordingProxy } from '../support/connectProxy';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { leakedSecrets, loggedText, runTask, taskVariablesEnv, type TaskRun } from '../support/taskRun';

/**
 * AcrNetworkRuleSync for a registry, as the agent runs it (bundle, ##vso commands, the post-job
 * step with the task variables the main step set). The registries' login servers are public names
 * the sandbox serves on loopback: the agent reaches them through its proxy (Agent.ProxyUrl), which
 * tunnels `<name>.azurecr.io:443` to the sandbox's ACR endpoint, as DNS would.
 */
describe('AcrNetworkRuleSync on a registry', function () {
  this.timeout(120_000);
  const RG = 'rg-acr';
  const EGRESS = '203.0.113.77';
  const SUBNET = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/agents';
  const PRE_EXISTING = ['198.51.100.0/24', '192.0.2.44'];
  const registry = (name: string, extra: Partial<RegistrySpec> = {}): RegistrySpec => ({
    name,
    resourceGroup: RG,
    defaultAction: 'Deny',
    ipRules: [...PRE_EXISTING],
    virtualNetworkRules: [SUBNET],
    firewallPropagationSeconds: 1,
    ...extra,
  });
  let sandbox: Sandbox;
  let proxy: RecordingProxy;
  let echo: https.Server;
  let echoUrl: string;
  const runs: TaskRun[] = [];

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'syncer' }, { name: 'readerOnly' }],
      roleAssignments: [
        { principal: 'syncer', role: 'Container Registry Contributor and Data Access Configuration Administrator', scope: `resourceGroup:${RG}` },
        // listUsages (the IP rule quota) needs Reader.
        { principal: 'syncer', role: 'Reader', scope: `resourceGroup:${RG}` },
        { principal: 'readerOnly', role: 'Reader', scope: `resourceGroup:${RG}` },
      ],
      registries: [
        registry('acrmain', { firewallPropagationSeconds: 3 }),
        registry('acrpair'),
        registry('acrconc'),
        registry('acrquota', { ipRuleLimit: 2 }),
        registry('acrclosed', { publicNetworkAccess: 'Disabled' }),
        registry('acropen', { publicNetworkAccess: 'Disabled', defaultAction: 'Allow' }),
        registry('acrprune', {
          ipRules: [...PRE_EXISTING, '203.0.113.200', '203.0.113.201', '203.0.113.202'],
          tags: {
            env: 'prod',
            // Ours, every lease expired (an agent lost before its post-job step).
            'privateaksdeploy.203.0.113.200': 'owned',
            'privateaksdeploy.203.0.113.200.0123456789abcdef': '1000',
            // Ours, one live lease.
            'privateaksdeploy.203.0.113.201': 'owned',
            'privateaksdeploy.203.0.113.201.0123456789abcdef': '1000',
            'privateaksdeploy.203.0.113.201.fedcba9876543210': String(Math.floor(Date.now() / 1000) + 3600),
            // Not ours (no owned tag), its lease expired: the rule stays.
            'privateaksdeploy.203.0.113.202.0123456789abcdef': '1000',
          },
        }),
      ],
      network: { agentEgressIp: EGRESS },
    });
    const hosts: Record<string, { host: string; port: number }> = {};
    for (const [name, endpoint] of sandbox.azure.registries) hosts[`${name.toLowerCase()}.azurecr.io:443`] = { host: '127.0.0.1', port: endpoint.port };
    proxy = await startRecordingProxy({ hosts });
    // An IP echo service: answers with the caller's public IP, as the registry would see it.
    echo = https.createServer(sandbox.context.tls, (_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`${EGRESS}\n`));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoUrl = `https://127.0.0.1:${(echo.address() as AddressInfo).port}/ip`;
  });

  after(async () => {
    if (!sandbox) return;
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await proxy?.close();
    await new Promise((resolve) => echo?.close(resolve));
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  const state = (name: string) => {
    const r = sandbox.azure.state.findRegistry(name, RG)!;
    return { ipRules: [...r.network.ipRules], vnet: [...r.network.virtualNetworkRules], tags: { ...r.tags }, publicNetworkAccess: r.network.publicNetworkAccess, defaultAction: r.network.defaultAction };
  };
  const ourTags = (tags: Record<string, string>) => Object.keys(tags).filter((k) => k.startsWith('privateaksdeploy.'));

  interface Job {
    jobId: string;
    principal?: string;
    inputs: Record<string, string>;
    extraEnv?: Record<string, string>;
  }

  function jobEnv(job: Job) {
    // Each job has its own Agent.TempDirectory, as on an agent (task-lib keeps its vault key there).
    const tempDirectory = path.join(sandbox.tempDir, 'jobs', job.jobId);
    fs.mkdirSync(tempDirectory, { recursive: true });
    return sandboxJobEnv(sandbox, {
      connectionId: 'sc-acr',
      scheme: 'ServicePrincipalSecret',
      principal: job.principal ?? 'syncer',
      inputs: { targetType: 'registry', resourceGroupName: RG, accessTimeoutSeconds: '30', ...job.inputs },
      proxyUrl: proxy.url,
      // Resource Manager, Entra and the echo service are reached directly.
      proxyBypassList: ['^https?://127\\.0\\.0\\.1'],
      extraEnv: {
        SYSTEM_PLANID: 'a1b2c3d4-0000-4000-8000-000000000001',
        SYSTEM_JOBID: job.jobId,
        SYSTEM_TASKINSTANCEID: '5e6f7a8b-0000-4000-8000-00000000000a',
        SYSTEM_JOBATTEMPT: '1',
        AGENT_TEMPDIRECTORY: tempDirectory,
        ...job.extraEnv,
      },
    });
  }

  async function main(job: Job): Promise<TaskRun> {
    const r = await runTask('AcrNetworkRuleSyncV1', jobEnv(job), { timeoutMs: 90_000 });
    runs.push(r);
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  /** The post-job step: the bundle again, with the task variables the main step set, as the agent passes them. */
  async function postJob(job: Job, mainRun: TaskRun, jobStatus = 'Succeeded'): Promise<TaskRun> {
    const env = { ...jobEnv(job), ...taskVariablesEnv(mainRun.taskVariables), AGENT_JOBSTATUS: jobStatus };
    const r = await runTask('AcrNetworkRuleSyncV1', env, { timeoutMs: 90_000 });
    runs.push(r);
    assert.ok(!r.timedOut, `the post-job step hung:\n${r.stdout}`);
    return r;
  }

  const succeeded = (r: TaskRun) => assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.stdout}`);
  const failedWith = (r: TaskRun, code: string) => {
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.ok(r.resultMessage?.includes(`[${code}]`), `expected ${code}: ${r.resultMessage}`);
    return r.resultMessage!;
  };
  const leaseOf = (r: TaskRun) => /\(lease ([0-9a-f]{16}) until/.exec(r.lines.join('\n'))?.[1];
  const retriesOf = (r: TaskRun) => [...r.lines.join('\n').matchAll(/(\d+) retr(?:y|ies) after concurrent changes/g)].reduce((n, m) => n + Number(m[1]), 0);

  it('detects the IP the registry sees, adds it, waits for 401, and the post-job step of a failed job removes it; other rules and VNet rules intact', async () => {
    const job: Job = { jobId: 'job-main', inputs: { registryName: 'acrmain' } };
    const r = await main(job);
    succeeded(r);
    const log = r.lines.join('\n');
    assert.match(log, new RegExp(`Agent egress IP: ${EGRESS.replace(/\./g, '\\.')} \\(from acrmain\\.azurecr\\.io's firewall refusal\\)`));
    assert.match(log, /waiting for the rule to take effect: 403, client IP 203\.0\.113\.77 not allowed yet/);
    assert.match(log, /answers HTTP 401: the firewall lets the agent in/);
    assert.strictEqual(r.outputs.agentIp, EGRESS);
    assert.strictEqual(r.outputs.ruleAdded, 'true');
    const seconds = Number(r.outputs.secondsToAccess);
    assert.ok(seconds >= 2.5 && seconds < 15, `secondsToAccess ${seconds}`);
    assert.ok(proxy.tunnels.includes('acrmain.azurecr.io:443'), 'the login server was asked through the agent proxy');
    const added = state('acrmain');
    assert.deepStrictEqual(added.ipRules, [...PRE_EXISTING, EGRESS]);
    assert.deepStrictEqual(added.vnet, [SUBNET], 'VNet rules survive the add');
    assert.strictEqual(added.tags[`privateaksdeploy.${EGRESS}`], 'owned');
    assert.ok(r.taskVariables['AcrNetworkRuleSync.Lease'], 'the lease is handed to the post-job step');

    const post = await postJob(job, r, 'Failed');
    succeeded(post);
    assert.match(post.lines.join('\n'), /Post-job \(job status Failed\): releasing lease/);
    assert.match(post.lines.join('\n'), /Removed 203\.0\.113\.77/);
    const after = state('acrmain');
    assert.deepStrictEqual(after.ipRules, PRE_EXISTING);
    assert.deepStrictEqual(after.vnet, [SUBNET], 'VNet rules survive the removal');
    assert.deepStrictEqual(ourTags(after.tags), []);

    // A post-job step whose rule is already gone does not fail the job.
    const again = await postJob(job, r);
    succeeded(again);
  });

  it('never removes a rule that existed before (explicit address)', async () => {
    const job: Job = { jobId: 'job-existing', inputs: { registryName: 'acrmain', ipSource: 'explicit', ipAddresses: '192.0.2.44\n', waitForAccess: 'false' } };
    const r = await main(job);
    succeeded(r);
    assert.strictEqual(r.outputs.ruleAdded, 'false');
    assert.ok(!state('acrmain').tags['privateaksdeploy.192.0.2.44'], 'a pre-existing rule is not marked ours');
    const post = await postJob(job, r);
    succeeded(post);
    assert.match(post.lines.join('\n'), /Kept 192\.0\.2\.44: the rule was not added by this extension/);
    assert.deepStrictEqual(state('acrmain').ipRules, PRE_EXISTING);
    assert.deepStrictEqual(ourTags(state('acrmain').tags), []);
  });

  it('two jobs behind one NAT IP: the first removal keeps the rule, the second removes it', async () => {
    const a: Job = { jobId: 'job-a', inputs: { registryName: 'acrpair', echoUrl } };
    const b: Job = { jobId: 'job-b', inputs: { registryName: 'acrpair', echoUrl } };
    const ra = await main(a);
    succeeded(ra);
    assert.strictEqual(ra.outputs.ruleAdded, 'true');
    // B gets through already: the registry's answer names no IP, so the echo URL tells it.
    const rb = await main(b);
    succeeded(rb);
    assert.match(rb.lines.join('\n'), /Agent egress IP: 203\.0\.113\.77 \(from https:\/\/127\.0\.0\.1:\d+\/ip; acrpair\.azurecr\.io already lets the agent in/);
    assert.strictEqual(rb.outputs.ruleAdded, 'false');
    assert.ok(Number(rb.outputs.secondsToAccess) < 0.5, `secondsToAccess ${rb.outputs.secondsToAccess}`);

    const pa = await postJob(a, ra);
    succeeded(pa);
    assert.match(pa.lines.join('\n'), /Kept 203\.0\.113\.77: 1 other job\(s\) still hold it/);
    assert.deepStrictEqual(state('acrpair').ipRules, [...PRE_EXISTING, EGRESS]);
    const pb = await postJob(b, rb);
    succeeded(pb);
    assert.deepStrictEqual(state('acrpair').ipRules, PRE_EXISTING);
    assert.deepStrictEqual(state('acrpair').vnet, [SUBNET]);
    assert.deepStrictEqual(ourTags(state('acrpair').tags), []);
  });

  it('8 concurrent jobs (5 behind one NAT IP, 3 with their own) add and remove against one registry, ending with exactly the rules it had', async () => {
    const jobs: Job[] = [
      ...[1, 2, 3, 4, 5].map((i) => ({ jobId: `conc-nat-${i}`, inputs: { registryName: 'acrconc', echoUrl } })),
      ...[1, 2, 3].map((i) => ({ jobId: `conc-own-${i}`, inputs: { registryName: 'acrconc', ipSource: 'explicit', ipAddresses: `203.0.113.${100 + i}`, waitForAccess: 'false' } })),
    ];
    const started = Date.now();
    const adds = await Promise.all(jobs.map((j) => main(j)));
    adds.forEach(succeeded);
    const afterAdds = state('acrconc');
    const expectedIps = [EGRESS, '203.0.113.101', '203.0.113.102', '203.0.113.103'];
    const lostLeases = adds.filter((r, i) => afterAdds.tags[`privateaksdeploy.${jobs[i].inputs.ipAddresses ?? EGRESS}.${leaseOf(r)}`] === undefined).length;
    const lostRules = expectedIps.filter((ip) => !afterAdds.ipRules.includes(ip)).length;
    const addRetries = adds.reduce((n, r) => n + retriesOf(r), 0);
    const posts = await Promise.all(jobs.map((j, i) => postJob(j, adds[i])));
    posts.forEach(succeeded);
    const removeRetries = posts.reduce((n, r) => n + retriesOf(r), 0);
    const end = state('acrconc');
    console.log(`      concurrent: ${jobs.length} jobs, ${lostRules} rule(s) and ${lostLeases} lease(s) lost after the adds, ${addRetries} add retries, ${removeRetries} remove retries, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.strictEqual(lostRules, 0, 'a rule added by a job was lost');
    assert.strictEqual(lostLeases, 0, "a job's lease was lost");
    assert.deepStrictEqual(end.ipRules, PRE_EXISTING);
    assert.deepStrictEqual(end.vnet, [SUBNET]);
    assert.deepStrictEqual(ourTags(end.tags), []);
  });

  it('an exhausted IP rule quota is explained, and nothing changes', async () => {
    const r = await main({ jobId: 'job-quota', inputs: { registryName: 'acrquota' } });
    const message = failedWith(r, 'ACR_IP_RULE_QUOTA');
    assert.match(message, /2 of its 2 IP rules/);
    assert.deepStrictEqual(state('acrquota').ipRules, PRE_EXISTING);
    assert.deepStrictEqual(ourTags(state('acrquota').tags), []);
  });

  it('public network access disabled: explained, nothing changed', async () => {
    const before = state('acrclosed');
    const r = await main({ jobId: 'job-closed', inputs: { registryName: 'acrclosed' } });
    const message = failedWith(r, 'ACR_PUBLIC_ACCESS_DISABLED');
    assert.match(message, /IP rules do not apply/);
    assert.match(message, /allowEnablingSelectedNetworks/);
    assert.deepStrictEqual(state('acrclosed'), before);
    assert.ok(!r.taskVariables['AcrNetworkRuleSync.Lease'], 'no lease handed to the post-job step');
  });

  it('public network access disabled and allowEnablingSelectedNetworks: switched to selected networks (Deny first), rule added, VNet rules kept, with a warning', async () => {
    const r = await main({ jobId: 'job-open', inputs: { registryName: 'acropen', ipSource: 'explicit', ipAddresses: '203.0.113.160', waitForAccess: 'false', allowEnablingSelectedNetworks: 'true' } });
    succeeded(r);
    assert.ok(r.warnings.some((w) => /acropen now accepts public traffic from its IP rules/.test(w)), r.warnings.join('\n'));
    const s = state('acropen');
    assert.strictEqual(s.publicNetworkAccess, 'Enabled');
    assert.strictEqual(s.defaultAction, 'Deny');
    assert.deepStrictEqual(s.ipRules, [...PRE_EXISTING, '203.0.113.160']);
    assert.deepStrictEqual(s.vnet, [SUBNET]);
  });

  it('refuses an explicit IPv6 address with the reason', async () => {
    const r = await main({ jobId: 'job-v6', inputs: { registryName: 'acrmain', ipSource: 'explicit', ipAddresses: '2001:db8::7' } });
    const message = failedWith(r, 'INVALID_INPUT');
    assert.match(message, /IPv6 address: ACR network rules .* take IPv4 only/);
  });

  it('prune removes only the expired rules this extension added', async () => {
    const r = await main({ jobId: 'job-prune', inputs: { registryName: 'acrprune', action: 'prune' } });
    succeeded(r);
    assert.match(r.lines.join('\n'), /Pruned 203\.0\.113\.200 \(every lease expired\)/);
    const s = state('acrprune');
    assert.deepStrictEqual(s.ipRules, [...PRE_EXISTING, '203.0.113.201', '203.0.113.202']);
    assert.deepStrictEqual(s.vnet, [SUBNET]);
    assert.deepStrictEqual(ourTags(s.tags).sort(), ['privateaksdeploy.203.0.113.201', 'privateaksdeploy.203.0.113.201.fedcba9876543210']);
    assert.strictEqual(s.tags.env, 'prod');
  });

  it('an AKS target is refused: this version supports registries only', async () => {
    const r = await main({ jobId: 'job-aks', inputs: { targetType: 'aksAuthorizedIpRanges', clusterName: 'aks-prod', registryName: '' } });
    failedWith(r, 'TARGET_NOT_SUPPORTED');
  });

  it('an identity without write permission: explained with the role to assign, nothing changed', async () => {
    const r = await main({ jobId: 'job-reader2', principal: 'readerOnly', inputs: { registryName: 'acrmain', ipSource: 'explicit', ipAddresses: '203.0.113.150', waitForAccess: 'false' } });
    const message = failedWith(r, 'ARM_AUTHORIZATION_FAILED');
    assert.match(message, /registries\/write/);
    assert.match(message, /Container Registry Contributor and Data Access Configuration Administrator/);
    assert.deepStrictEqual(state('acrmain').ipRules, PRE_EXISTING);
  });
});
