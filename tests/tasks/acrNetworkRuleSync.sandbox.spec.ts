import * as assert from 'assert';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { startSandbox, type Sandbox } from '../sandbox';
import type { RegistrySpec } from '../sandbox/arm/azureResources';
import { startRecordingProxy, type RecordingProxy } from '../support/connectProxy';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { holdsLease, leaseNamespace, leasesOf, planAdd, type RuleState } from '../../shared/firewall/ruleLeases';
import { leakedSecrets, loggedText, runPostJobStep, runTask, type TaskRun } from '../support/taskRun';

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
  const SUBNET =
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/agents';
  const PRE_EXISTING = ['198.51.100.0/24', '192.0.2.44'];
  const PRE_EXISTING_RANGES = ['198.51.100.0/24', '192.0.2.44/32'];
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
        {
          principal: 'syncer',
          role: 'Container Registry Contributor and Data Access Configuration Administrator',
          scope: `resourceGroup:${RG}`,
        },
        // listUsages (the IP rule quota) needs Reader.
        { principal: 'syncer', role: 'Reader', scope: `resourceGroup:${RG}` },
        { principal: 'readerOnly', role: 'Reader', scope: `resourceGroup:${RG}` },
        { principal: 'syncer', role: 'Azure Kubernetes Service Contributor Role', scope: `resourceGroup:${RG}` },
      ],
      clusters: [
        {
          name: 'aks-public',
          resourceGroup: RG,
          private: false,
          authorizedIpRanges: [...PRE_EXISTING_RANGES],
          authorizedIpRangesPropagationSeconds: 2,
          tags: { env: 'prod' },
        },
        { name: 'aks-conc', resourceGroup: RG, private: false, authorizedIpRanges: [...PRE_EXISTING_RANGES] },
        { name: 'aks-race', resourceGroup: RG, private: false, authorizedIpRanges: [...PRE_EXISTING_RANGES] },
        { name: 'aks-alone', resourceGroup: RG, private: false, authorizedIpRanges: [] },
        { name: 'aks-private', resourceGroup: RG, private: true },
        {
          name: 'aks-full',
          resourceGroup: RG,
          private: false,
          authorizedIpRanges: Array.from({ length: 200 }, (_, i) => `10.${Math.floor(i / 250)}.${i % 250}.0/24`),
        },
      ],
      registries: [
        registry('acrmain', { firewallPropagationSeconds: 3 }),
        registry('acrpair'),
        registry('acrconc'),
        registry('acrquota', { ipRuleLimit: 2 }),
        registry('acrclosed', { publicNetworkAccess: 'Disabled' }),
        registry('acropen', { publicNetworkAccess: 'Disabled', defaultAction: 'Allow' }),
        // Its lease tags are written once the principal's object id (the namespace) is known.
        registry('acrprune', {
          ipRules: [...PRE_EXISTING, '203.0.113.200', '203.0.113.201', '203.0.113.202', '203.0.113.203'],
          tags: { env: 'prod' },
        }),
        registry('acrforged', { ipRules: [...PRE_EXISTING], tags: { env: 'prod' } }),
        registry('acrforged2', { ipRules: [...PRE_EXISTING], tags: { env: 'prod' } }),
      ],
      network: { agentEgressIp: EGRESS },
    });
    const hosts: Record<string, { host: string; port: number }> = {};
    for (const [name, endpoint] of sandbox.azure.registries)
      hosts[`${name.toLowerCase()}.azurecr.io:443`] = { host: '127.0.0.1', port: endpoint.port };
    // Public API servers, behind their authorized-IP-range filter.
    for (const [name, gate] of sandbox.azure.publicGates)
      hosts[`${sandbox.azure.state.cluster(name).fqdn}:443`] = { host: '127.0.0.1', port: gate.port };
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
    return {
      ipRules: [...r.network.ipRules],
      vnet: [...r.network.virtualNetworkRules],
      tags: { ...r.tags },
      publicNetworkAccess: r.network.publicNetworkAccess,
      defaultAction: r.network.defaultAction,
    };
  };
  const ourTags = (tags: Record<string, string>) => Object.keys(tags).filter((k) => k.startsWith('privateaksdeploy.'));
  /** The syncer connection's lease namespace, as the task computes it from the token's oid. */
  const scope = () => ({ ns: leaseNamespace(sandbox.principal('syncer').objectId), now: Math.floor(Date.now() / 1000) });
  const markOf = (tags: Record<string, string>, ip: string) => leasesOf(tags, ip, scope())?.addedAt;

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
      variables: {
        'System.PlanId': 'a1b2c3d4-0000-4000-8000-000000000001',
        'System.JobId': job.jobId,
        'System.TaskInstanceId': '5e6f7a8b-0000-4000-8000-00000000000a',
        'System.JobAttempt': '1',
      },
      tempDirectory,
      extraEnv: job.extraEnv,
    });
  }

  /** Main steps whose job has not ended yet: the agent runs their post-job step at the end of the job. */
  const pendingPostJobs = new Map<TaskRun, Job>();

  async function main(job: Job): Promise<TaskRun> {
    const r = await runTask('AcrNetworkRuleSyncV1', jobEnv(job), { timeoutMs: 90_000 });
    runs.push(r);
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    pendingPostJobs.set(r, job);
    return r;
  }

  /** The post-job step (post.js), with the task variables the main step set and the job's status, as the agent runs it. */
  async function postJob(job: Job, mainRun: TaskRun, jobStatus?: string): Promise<TaskRun> {
    pendingPostJobs.delete(mainRun);
    const r = (await runPostJobStep('AcrNetworkRuleSyncV1', jobEnv(job), mainRun, { timeoutMs: 90_000, jobStatus }))!;
    runs.push(r);
    assert.ok(!r.timedOut, `the post-job step hung:\n${r.stdout}`);
    return r;
  }

  // Every job ends with its post-job step (JobExtension.cs: condition always), also where a test
  // looked only at the main step: it must succeed whatever the main step did.
  afterEach(async () => {
    const pending = [...pendingPostJobs];
    pendingPostJobs.clear();
    const posts = await Promise.all(pending.map(([r, job]) => postJob(job, r)));
    for (const p of posts) assert.strictEqual(p.result, 'Succeeded', `post-job step: ${p.resultMessage}\n${p.stdout}`);
  });

  const succeeded = (r: TaskRun) => assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.stdout}`);
  const failedWith = (r: TaskRun, code: string) => {
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.ok(r.resultMessage?.includes(`[${code}]`), `expected ${code}: ${r.resultMessage}`);
    return r.resultMessage!;
  };
  const leaseOf = (r: TaskRun) => /\(lease ([0-9a-f]{12}) until/.exec(r.lines.join('\n'))?.[1];
  const armWrites = (registry: string) =>
    sandbox.requests.filter((e) => e.service === 'arm' && e.method === 'PATCH' && e.path.toLowerCase().endsWith(`/registries/${registry}`))
      .length;
  const retriesOf = (r: TaskRun) =>
    [...r.lines.join('\n').matchAll(/(\d+) retr(?:y|ies) after concurrent changes/g)].reduce((n, m) => n + Number(m[1]), 0);

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
    assert.deepStrictEqual(ourTags(added.tags), [`privateaksdeploy.${scope().ns}.0`]);
    assert.ok(markOf(added.tags, EGRESS), 'the rule is marked as added by this connection');
    assert.ok(holdsLease({ ipRules: added.ipRules, tags: added.tags }, EGRESS, leaseOf(r)!, scope()));
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
    const job: Job = {
      jobId: 'job-existing',
      inputs: { registryName: 'acrmain', ipSource: 'explicit', ipAddresses: '192.0.2.44\n', waitForAccess: 'false' },
    };
    const r = await main(job);
    succeeded(r);
    assert.strictEqual(r.outputs.ruleAdded, 'false');
    assert.strictEqual(markOf(state('acrmain').tags, '192.0.2.44'), undefined, 'a pre-existing rule is not marked ours');
    assert.ok(leasesOf(state('acrmain').tags, '192.0.2.44', scope())?.leases.has(leaseOf(r)!), 'the job holds a lease on it');
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
    assert.match(
      rb.lines.join('\n'),
      /Agent egress IP: 203\.0\.113\.77 \(from https:\/\/127\.0\.0\.1:\d+\/ip; acrpair\.azurecr\.io already lets the agent in/,
    );
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

  it('20 concurrent jobs (10 behind one NAT IP, 10 with their own) add and remove against one registry through a 429 and a failed update, ending with exactly the rules it had', async function () {
    this.timeout(300_000);
    const jobs: Job[] = [
      ...Array.from({ length: 10 }, (_, i) => ({ jobId: `conc-nat-${i + 1}`, inputs: { registryName: 'acrconc', echoUrl } })),
      ...Array.from({ length: 10 }, (_, i) => ({
        jobId: `conc-own-${i + 1}`,
        inputs: { registryName: 'acrconc', ipSource: 'explicit', ipAddresses: `203.0.113.${101 + i}`, waitForAccess: 'false' },
      })),
    ];
    // Resource Manager throttles one write and fails one update's long-running operation.
    sandbox.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 1, method: 'PATCH', pathIncludes: '/registries/acrconc' });
    sandbox.azure.arm.failNextOperation('registries');
    const writesBefore = armWrites('acrconc');
    const started = Date.now();
    const adds = await Promise.all(jobs.map((j) => main(j)));
    adds.forEach(succeeded);
    const addSeconds = (Date.now() - started) / 1000;
    const afterAdds = state('acrconc');
    const expectedIps = [EGRESS, ...Array.from({ length: 10 }, (_, i) => `203.0.113.${101 + i}`)];
    const lostLeases = adds.filter(
      (r, i) =>
        !holdsLease({ ipRules: afterAdds.ipRules, tags: afterAdds.tags }, jobs[i].inputs.ipAddresses ?? EGRESS, leaseOf(r)!, scope()),
    ).length;
    const lostRules = expectedIps.filter((ip) => !afterAdds.ipRules.includes(ip)).length;
    const addRetries = adds.reduce((n, r) => n + retriesOf(r), 0);
    assert.ok(
      adds.some((r) => /answered HTTP 429/.test(r.stdout)),
      'a job met the 429',
    );
    assert.ok(
      adds.some((r) => /answered with a failed update/.test(r.stdout)),
      'a job met the failed update',
    );
    const posts = await Promise.all(jobs.map((j, i) => postJob(j, adds[i])));
    posts.forEach(succeeded);
    const removeRetries = posts.reduce((n, r) => n + retriesOf(r), 0);
    const end = state('acrconc');
    const writes = armWrites('acrconc') - writesBefore;
    console.log(
      `      concurrent: ${jobs.length} jobs, ${lostRules} rule(s) and ${lostLeases} lease(s) lost after the adds, ${addRetries} add retries, ${removeRetries} remove retries, ${writes} ARM writes (${(writes / jobs.length).toFixed(1)} per job), adds ${addSeconds.toFixed(1)} s, all ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.strictEqual(lostRules, 0, 'a rule added by a job was lost');
    assert.strictEqual(lostLeases, 0, "a job's lease was lost");
    assert.deepStrictEqual(end.ipRules, PRE_EXISTING);
    assert.deepStrictEqual(end.vnet, [SUBNET]);
    assert.deepStrictEqual(ourTags(end.tags), []);
  });

  it('an exhausted IP rule quota is explained, and nothing changes', async () => {
    const r = await main({ jobId: 'job-quota', inputs: { registryName: 'acrquota' } });
    const message = failedWith(r, 'FIREWALL_RULE_QUOTA');
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
    const r = await main({
      jobId: 'job-open',
      inputs: {
        registryName: 'acropen',
        ipSource: 'explicit',
        ipAddresses: '203.0.113.160',
        waitForAccess: 'false',
        allowEnablingSelectedNetworks: 'true',
      },
    });
    succeeded(r);
    assert.ok(
      r.warnings.some((w) => /acropen now accepts public traffic from its IP rules/.test(w)),
      r.warnings.join('\n'),
    );
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

  /** Writes lease records into the registry's tags as the task would (or a tag writer could): `planAdd` at a chosen time. */
  const seed = (
    name: string,
    adds: { ip: string; key: string; start: number; minutes: number }[],
    extraTags: Record<string, string> = {},
  ) => {
    const r = sandbox.azure.state.findRegistry(name, RG)!;
    let st: RuleState = { ipRules: [...r.network.ipRules], tags: { ...r.tags } };
    for (const a of adds) st = planAdd(st, a.ip, a.key, { start: a.start, minutes: a.minutes }, { ns: scope().ns, now: a.start });
    r.network.ipRules = st.ipRules;
    r.tags = { ...st.tags, ...extraTags };
  };
  const nowS = () => Math.floor(Date.now() / 1000);

  it('prune removes only the expired single-address rules this extension added; an old layout lease is dropped, its rule left', async () => {
    const r0 = sandbox.azure.state.findRegistry('acrprune', RG)!;
    // The rules go first, so that the task's records of them are not taken for stale ones.
    r0.network.ipRules = [...PRE_EXISTING];
    seed('acrprune', [
      // Ours, every lease expired (an agent lost before its post-job step).
      { ip: '203.0.113.200', key: '0123456789ab', start: nowS() - 7200, minutes: 10 },
      // Ours, one expired and one live lease.
      { ip: '203.0.113.201', key: '0123456789ab', start: nowS() - 7200, minutes: 10 },
      { ip: '203.0.113.201', key: 'fedcba987654', start: nowS(), minutes: 60 },
    ]);
    r0.network.ipRules = [...r0.network.ipRules, '203.0.113.202', '203.0.113.203'];
    r0.tags = {
      ...r0.tags,
      // A rule there before the task came, with a lease of the task (expired) and no mark: the rule stays.
      ...planAdd(
        { ipRules: ['203.0.113.202'], tags: {} },
        '203.0.113.202',
        '0123456789ab',
        { start: nowS() - 7200, minutes: 10 },
        { ns: 'ffffffff', now: nowS() - 7200 },
      ).tags,
      // The layout of earlier versions, every lease expired: its `ours` is not trusted, the tag goes, the rule stays.
      'privateaksdeploy.203.0.113.203': 'ours;0123456789ab:1000',
    };
    const r = await main({ jobId: 'job-prune', inputs: { registryName: 'acrprune', action: 'prune' } });
    succeeded(r);
    assert.match(r.lines.join('\n'), /Pruned 203\.0\.113\.200 \(every lease expired\)/);
    assert.ok(
      r.warnings.some((w) => /earlier version of this task on 203\.0\.113\.203; those rules were left in place/.test(w)),
      r.warnings.join('\n'),
    );
    const s = state('acrprune');
    assert.deepStrictEqual(s.ipRules, [...PRE_EXISTING, '203.0.113.201', '203.0.113.202', '203.0.113.203']);
    assert.deepStrictEqual(s.vnet, [SUBNET]);
    assert.deepStrictEqual(ourTags(s.tags).sort(), [`privateaksdeploy.${scope().ns}.0`, 'privateaksdeploy.ffffffff.0'].sort());
    assert.deepStrictEqual(
      [...leasesOf(s.tags, '203.0.113.201', scope())!.leases.keys()],
      ['fedcba987654'],
      'the expired lease of a rule still held is dropped',
    );
    assert.strictEqual(s.tags.env, 'prod');
  });

  it('a tag writer marks the pre-existing rules (a range and a single address) as added by the task, with expired leases: prune removes neither', async () => {
    seed('acrforged', [], {
      // The range, marked in this version's layout.
      [`privateaksdeploy.${scope().ns}.0`]: `c6336400m24.o${(nowS() - 7200).toString(36)}-0123456789ab.${(nowS() - 7200).toString(36)}.a`,
      // Both, marked in the layout of earlier versions (the review's attack: an office range removed).
      'privateaksdeploy.198.51.100.0_24': 'ours;0123456789ab:1000',
      'privateaksdeploy.192.0.2.44': 'ours;0123456789ab:1000',
    });
    assert.ok(markOf(state('acrforged').tags, '198.51.100.0/24'), 'the forgery reads as a mark');
    const r = await main({ jobId: 'job-forged-prune', inputs: { registryName: 'acrforged', action: 'prune' } });
    succeeded(r);
    assert.deepStrictEqual(state('acrforged').ipRules, PRE_EXISTING, 'prune removed a rule the task never added');
    assert.deepStrictEqual(state('acrforged').vnet, [SUBNET]);
  });

  it("a tag writer marks a pre-existing address while a job holds a lease on it: the job's post-job step keeps the rule", async () => {
    const job: Job = {
      jobId: 'job-forged-post',
      inputs: { registryName: 'acrforged2', ipSource: 'explicit', ipAddresses: '192.0.2.44', waitForAccess: 'false' },
    };
    const r = await main(job);
    succeeded(r);
    assert.strictEqual(markOf(state('acrforged2').tags, '192.0.2.44'), undefined);
    // The forger rewrites the job's record with a mark, keeping its lease.
    const reg = sandbox.azure.state.findRegistry('acrforged2', RG)!;
    const lease = leasesOf(reg.tags, '192.0.2.44', scope())!.leases.get(leaseOf(r)!)!;
    reg.tags = {
      env: 'prod',
      [`privateaksdeploy.${scope().ns}.0`]: `c000022c.o${(nowS() - 30).toString(36)}-${leaseOf(r)}.${lease.start.toString(36)}.${lease.minutes.toString(36)}`,
    };
    assert.ok(markOf(reg.tags, '192.0.2.44'));
    const post = await postJob(job, r);
    succeeded(post);
    assert.match(
      post.lines.join('\n'),
      /Kept 192\.0\.2\.44: it is marked as added by this extension, but not in a way this job saw itself/,
    );
    assert.deepStrictEqual(state('acrforged2').ipRules, PRE_EXISTING);
    assert.deepStrictEqual(ourTags(state('acrforged2').tags), []);
  });

  it("a far-future lease a tag writer adds does not keep the job's rule: the post-job step removes it", async () => {
    const job: Job = {
      jobId: 'job-forged-lease',
      inputs: { registryName: 'acrforged2', ipSource: 'explicit', ipAddresses: '203.0.113.150', waitForAccess: 'false' },
    };
    const r = await main(job);
    succeeded(r);
    assert.strictEqual(r.outputs.ruleAdded, 'true');
    const reg = sandbox.azure.state.findRegistry('acrforged2', RG)!;
    // 100 years from now, and a lease of the largest duration the format can hold starting in a year.
    reg.tags = {
      ...reg.tags,
      [`privateaksdeploy.${scope().ns}.5`]: `cb007196-aaaaaaaaaaaa.${(nowS() + 100 * 365 * 86400).toString(36)}.a_cb007196-bbbbbbbbbbbb.${(nowS() + 365 * 86400).toString(36)}.zzz`,
      // The same in the layout of earlier versions: a lease until 2126.
      'privateaksdeploy.203.0.113.150': `ours;cccccccccccc:${nowS() + 100 * 365 * 86400}`,
    };
    const post = await postJob(job, r);
    succeeded(post);
    assert.match(post.lines.join('\n'), /Removed 203\.0\.113\.150/);
    assert.deepStrictEqual(state('acrforged2').ipRules, PRE_EXISTING);
    // Its own namespace is written whole (the forged records go); an old-layout tag is left to prune.
    assert.deepStrictEqual(ourTags(state('acrforged2').tags), ['privateaksdeploy.203.0.113.150']);
  });

  const cluster = (name: string) => {
    const c = sandbox.azure.state.cluster(name);
    return { ranges: [...c.authorizedIpRanges], tags: { ...c.tags }, eTag: c.eTag };
  };
  const aksJob = (jobId: string, clusterName: string, inputs: Record<string, string> = {}): Job => ({
    jobId,
    inputs: { targetType: 'aksAuthorizedIpRanges', clusterName, echoUrl, ...inputs },
  });

  it('AKS: adds the agent IP to the authorized ranges (PUT with If-Match), waits until the API server answers, the post-job step removes it; other ranges and tags intact', async () => {
    const job = aksJob('aks-main', 'aks-public');
    const r = await main(job);
    succeeded(r);
    const log = r.lines.join('\n');
    assert.match(
      log,
      /Agent egress IP: 203\.0\.113\.77 \(from https:\/\/127\.0\.0\.1:\d+\/ip; the AKS API server does not name the caller's IP\)/,
    );
    assert.match(log, /waiting for the rule to take effect: no answer/);
    assert.match(log, /presents its certificate|\/readyz answers HTTP/);
    assert.strictEqual(r.outputs.ruleAdded, 'true');
    assert.ok(Number(r.outputs.secondsToAccess) >= 1.5, `secondsToAccess ${r.outputs.secondsToAccess}`);
    const puts = sandbox.requests.filter(
      (e) => e.service === 'arm' && e.method === 'PUT' && e.path.endsWith('/managedClusters/aks-public'),
    );
    assert.ok(puts.length >= 1, 'the ranges were written with a PUT');
    const added = cluster('aks-public');
    assert.deepStrictEqual(added.ranges, [...PRE_EXISTING_RANGES, EGRESS]);
    assert.strictEqual(added.tags.env, 'prod');
    assert.ok(sandbox.azure.publicGates.get('aks-public')!.admitsAgent(Date.now() + 60_000));

    const post = await postJob(job, r, 'Failed');
    succeeded(post);
    assert.match(post.lines.join('\n'), /Removed 203\.0\.113\.77/);
    const after = cluster('aks-public');
    assert.deepStrictEqual(after.ranges, PRE_EXISTING_RANGES);
    assert.deepStrictEqual(after.tags, { env: 'prod' });
  });

  it('AKS: 6 concurrent jobs on one cluster meet eTag conflicts (412), retry, and end with exactly the ranges it had', async function () {
    this.timeout(180_000);
    const jobs = Array.from({ length: 6 }, (_, i) =>
      aksJob(`aks-conc-${i + 1}`, 'aks-conc', { ipSource: 'explicit', ipAddresses: `203.0.113.${180 + i}`, waitForAccess: 'false' }),
    );
    // The first PUT is held 3 s, long enough for the others to change the cluster under it: its eTag is stale when it lands.
    sandbox.faults.inject('arm', { delayMs: 3_000, times: 1, method: 'PUT', pathIncludes: '/managedClusters/aks-conc' });
    const adds = await Promise.all(jobs.map((j) => main(j)));
    adds.forEach(succeeded);
    assert.deepStrictEqual(
      cluster('aks-conc').ranges.slice().sort(),
      [...PRE_EXISTING_RANGES, ...jobs.map((j) => j.inputs.ipAddresses)].sort(),
    );
    const puts = sandbox.requests.filter((e) => e.service === 'arm' && e.method === 'PUT' && e.path.endsWith('/managedClusters/aks-conc'));
    const stale = puts.filter((e) => e.status === 412).length;
    const busy = puts.filter((e) => e.status === 409).length;
    console.log(
      `      AKS concurrent: ${jobs.length} jobs, ${puts.length} PUTs: ${stale} refused as stale (412), ${busy} while another update ran (409)`,
    );
    assert.ok(stale > 0, 'a PUT planned from an older read was refused (If-Match)');
    assert.ok(
      adds.some((r) => /the cluster 'aks-conc' answered HTTP 412/.test(r.stdout)),
      'a job reported the conflict and read again',
    );
    const posts = await Promise.all(jobs.map((j, i) => postJob(j, adds[i])));
    posts.forEach(succeeded);
    assert.deepStrictEqual(cluster('aks-conc').ranges, PRE_EXISTING_RANGES);
    assert.deepStrictEqual(ourTags(cluster('aks-conc').tags), []);
  });

  it('AKS: someone changes the cluster between our read and our PUT: 412 (If-Match), read again, their change kept', async () => {
    // Our PUT is held for 1.5 s; while it waits, another writer updates the cluster (new eTag).
    sandbox.faults.inject('arm', { delayMs: 1_500, times: 1, method: 'PUT', pathIncludes: '/managedClusters/aks-race' });
    const running = main(aksJob('aks-race-1', 'aks-race', { ipSource: 'explicit', ipAddresses: '203.0.113.190', waitForAccess: 'false' }));
    const deadline = Date.now() + 30_000;
    while (!sandbox.requests.some((e) => e.method === 'PUT' && e.path.endsWith('/managedClusters/aks-race')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    sandbox.azure.state.updateCluster('aks-race', {
      tags: { owner: 'platform-team' },
      authorizedIpRanges: [...PRE_EXISTING_RANGES, '192.0.2.99/32'],
    });
    const r = await running;
    succeeded(r);
    assert.match(r.stdout, /the cluster 'aks-race' answered HTTP 412/);
    const puts = sandbox.requests.filter((e) => e.method === 'PUT' && e.path.endsWith('/managedClusters/aks-race'));
    assert.deepStrictEqual(
      puts.map((e) => e.status),
      [412, 200],
    );
    const c = cluster('aks-race');
    assert.deepStrictEqual(c.ranges, [...PRE_EXISTING_RANGES, '192.0.2.99/32', '203.0.113.190'], "the other writer's range is kept");
    assert.strictEqual(c.tags.owner, 'platform-team');
  });

  it('AKS: a private cluster is refused with the reason, nothing changed', async () => {
    const before = cluster('aks-private');
    const r = await main(aksJob('aks-priv', 'aks-private'));
    const message = failedWith(r, 'AKS_PRIVATE_CLUSTER');
    assert.match(message, /authorized IP ranges do not apply/);
    assert.deepStrictEqual(cluster('aks-private'), before);
  });

  it('AKS: a cluster without ranges accepts every network; adding one would shut others out, so nothing changes', async () => {
    const before = cluster('aks-alone');
    const r = await main(aksJob('aks-open', 'aks-alone'));
    succeeded(r);
    assert.match(r.lines.join('\n'), /accepts every network \(no authorized IP ranges/);
    assert.deepStrictEqual(cluster('aks-alone'), before);
  });

  it('AKS: 200 ranges already: the limit is explained, nothing changed', async () => {
    const before = cluster('aks-full');
    const r = await main(aksJob('aks-limit', 'aks-full', { ipSource: 'explicit', ipAddresses: '203.0.113.99' }));
    const message = failedWith(r, 'FIREWALL_RULE_QUOTA');
    assert.match(message, /allows 200/);
    assert.deepStrictEqual(cluster('aks-full'), before);
  });

  it('AKS: auto without an echo URL says how to give the IP', async () => {
    const r = await main({ jobId: 'aks-noecho', inputs: { targetType: 'aksAuthorizedIpRanges', clusterName: 'aks-public' } });
    const message = failedWith(r, 'AGENT_IP_UNKNOWN');
    assert.match(message, /does not name the caller's IP/);
    assert.match(message, /echoUrl|explicit/);
  });

  it('an identity without write permission: explained with the role to assign, nothing changed', async () => {
    const r = await main({
      jobId: 'job-reader2',
      principal: 'readerOnly',
      inputs: { registryName: 'acrmain', ipSource: 'explicit', ipAddresses: '203.0.113.150', waitForAccess: 'false' },
    });
    const message = failedWith(r, 'ARM_AUTHORIZATION_FAILED');
    assert.match(message, /registries\/write/);
    assert.match(message, /Container Registry Contributor and Data Access Configuration Administrator/);
    assert.deepStrictEqual(state('acrmain').ipRules, PRE_EXISTING);
  });
});
