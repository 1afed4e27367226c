import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { readRuleSyncInputs, type RuleSyncOptions } from '../../tasks/AcrNetworkRuleSyncV1/inputs';
import { keptLine, summaryPage, type RuleSyncResult } from '../../tasks/AcrNetworkRuleSyncV1/report';
import { stepOf } from '../../tasks/AcrNetworkRuleSyncV1/syncRule';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { agentJobEnv, taskInputsEnv } from '../support/agentEnvironment';
import { agentInputsEnv } from '../support/agentStep';

/** AcrNetworkRuleSync's pure parts: its inputs as the agent hands them over, the action choice, the report rendering. */
describe('AcrNetworkRuleSync task modules', () => {
  describe('inputs (read as the agent hands them over: task.json defaults filled in)', () => {
    let work: string;
    let given: string[] = [];

    /** Sets the step's environment as the agent would, has task-lib load it, and reads the options. */
    function read(inputs: Record<string, string>): RuleSyncOptions {
      for (const key of given) delete process.env[key];
      const env = agentInputsEnv('AcrNetworkRuleSyncV1', {
        ...agentJobEnv({ tempDirectory: work, workFolder: work, collectionUri: 'https://dev.azure.com/contoso/' }),
        ...taskInputsEnv({ resourceGroupName: 'rg-prod', ...inputs }),
      });
      given = Object.keys(env).filter((k) => !(k in process.env));
      Object.assign(process.env, env);
      taskLibInternal._loadData();
      return readRuleSyncInputs();
    }

    function refusal(inputs: Record<string, string>): { input: string; message: string } {
      try {
        read(inputs);
      } catch (err) {
        assert.ok(err instanceof ExplainedError, String(err));
        assert.strictEqual(err.code, 'INVALID_INPUT', err.message);
        return { input: /input '(\w+)'/.exec(err.message)?.[1] ?? '', message: err.message };
      }
      assert.fail('the inputs were accepted');
    }

    before(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-sync-inputs-'));
    });
    after(() => {
      for (const key of given) delete process.env[key];
      taskLibInternal._loadData();
      fs.rmSync(work, { recursive: true, force: true });
    });

    it("the defaults: a registry, addForJob, the agent's own address, wait 300 s, lease 120 min", () => {
      assert.deepStrictEqual(read({ registryName: 'contosoprod' }), {
        targetType: 'registry',
        action: 'addForJob',
        resourceGroup: 'rg-prod',
        name: 'contosoprod',
        explicitIps: undefined,
        waitForAccess: true,
        accessTimeoutSeconds: 300,
        leaseMinutes: 120,
        allowEnablingSelectedNetworks: false,
        echoUrl: undefined,
      });
    });

    it('an AKS target takes clusterName, not registryName, and names it when empty', () => {
      const o = read({ targetType: 'aksAuthorizedIpRanges', clusterName: 'aks-prod', registryName: 'ignored' });
      assert.strictEqual(o.name, 'aks-prod');
      assert.strictEqual(refusal({ targetType: 'aksAuthorizedIpRanges', registryName: 'contosoprod' }).input, 'clusterName');
    });

    it('explicit addresses: comments skipped, the same rule written two ways kept once', () => {
      const o = read({
        registryName: 'contosoprod',
        ipSource: 'explicit',
        ipAddresses: '# NAT\n203.0.113.7\n203.0.113.7/32\n198.51.100.0/28',
      });
      assert.deepStrictEqual(o.explicitIps, ['203.0.113.7', '198.51.100.0/28']);
    });

    it('explicit without addresses is refused, except for prune, which takes none', () => {
      assert.deepStrictEqual(refusal({ registryName: 'contosoprod', ipSource: 'explicit', ipAddresses: '' }).input, 'ipAddresses');
      assert.strictEqual(
        read({ registryName: 'contosoprod', action: 'prune', ipSource: 'explicit', ipAddresses: '' }).explicitIps,
        undefined,
      );
    });

    it('an echo URL over plain HTTP is refused, naming echoUrl', () => {
      const r = refusal({ registryName: 'contosoprod', echoUrl: 'http://ifconfig.example/ip' });
      assert.strictEqual(r.input, 'echoUrl');
      assert.match(r.message, /not an HTTPS URL/);
    });

    it('numbers out of range name their input; the first wrong input is the one named', () => {
      assert.strictEqual(refusal({ registryName: 'contosoprod', leaseMinutes: '0' }).input, 'leaseMinutes');
      assert.strictEqual(refusal({ registryName: 'contosoprod', accessTimeoutSeconds: '3601' }).input, 'accessTimeoutSeconds');
      assert.strictEqual(refusal({ action: 'open', registryName: '' }).input, 'action');
    });
  });

  describe('the action choice', () => {
    it("addForJob leases for the job and hands the lease to the post-job step; add and remove pair up on the run's lease", () => {
      assert.deepStrictEqual(stepOf('addForJob'), { unit: 'add', lease: 'job', handOver: true });
      assert.deepStrictEqual(stepOf('add'), { unit: 'add', lease: 'run', handOver: false });
      assert.deepStrictEqual(stepOf('remove'), { unit: 'remove', lease: 'run', handOver: false });
      assert.deepStrictEqual(stepOf('prune'), { unit: 'prune', handOver: false });
    });
  });

  describe('the report', () => {
    const added: RuleSyncResult = {
      action: 'addForJob',
      targetKind: 'registry',
      targetName: 'contosoprod',
      ips: ['203.0.113.7'],
      agentIp: '203.0.113.7',
      ruleAdded: true,
      secondsToAccess: 4,
      result: 'added 203.0.113.7',
      retries: 1,
      lease: { minutes: 120, expiresOn: new Date('2030-01-01T12:00:00Z') },
      waitedForAccess: true,
    };

    it('an added rule: target, addresses, access time, retries, lifetime and outputs', () => {
      const page = summaryPage(added);
      assert.match(page, /^### ✅ Firewall opened to this agent for the job/);
      assert.match(page, /container registry `contosoprod`: IP rules/);
      assert.match(page, /\| \*\*Addresses\*\* \| `203\.0\.113\.7` \|/);
      assert.match(page, /got through 4 s after the change/);
      assert.match(page, /⚠️ 1 retry: other writers/);
      assert.match(page, /Backstop: lease 120 min, until about 2030-01-01 12:00 UTC/);
      assert.match(page, /Outputs: `agentIp` = `203\.0\.113\.7`, `ruleAdded` = true, `secondsToAccess` = 4$/);
      assert.match(summaryPage({ ...added, waitedForAccess: false, secondsToAccess: 0 }), /not waited for \(waitForAccess: false\)/);
    });

    it('nothing to do is informational, with no access row and no addresses', () => {
      const page = summaryPage({
        ...added,
        action: 'prune',
        targetKind: 'aksAuthorizedIpRanges',
        targetName: 'aks-prod',
        ips: [],
        agentIp: '',
        ruleAdded: false,
        secondsToAccess: 0,
        result: 'nothing expired',
        retries: 0,
        lease: undefined,
      });
      assert.match(page, /^### ℹ️ Expired firewall rules pruned/);
      assert.match(page, /AKS cluster `aks-prod`: API server authorized IP ranges/);
      assert.match(page, /\| \*\*Addresses\*\* \| — \|/);
      assert.match(page, /\| \*\*Concurrent changes\*\* \| none \|/);
      assert.ok(!page.includes('Access from the agent'), page);
    });

    it('a kept rule says why; only the last AKS range, which a person must remove, is a warning', () => {
      const label = 'cluster aks-prod';
      assert.deepStrictEqual(keptLine(label, { ip: '203.0.113.7', why: 'otherLeases', holders: 2 }), {
        warning: false,
        text: 'Kept 203.0.113.7: 2 other job(s) still hold it.',
      });
      const last = keptLine(label, { ip: '203.0.113.7', why: 'lastRule' });
      assert.ok(last.warning);
      assert.match(last.text, /^Kept 203\.0\.113\.7 on cluster aks-prod: it is the last rule/);
      assert.match(keptLine(label, { ip: '198.51.100.0/28', why: 'markedLater' }).text, /a range the input does not name/);
      assert.match(keptLine(label, { ip: '203.0.113.7', why: 'markedLater' }).text, /the mark appeared after it took its lease/);
      assert.match(keptLine(label, { ip: '203.0.113.7', why: 'notOurs' }).text, /not added by this extension/);
    });
  });
});
