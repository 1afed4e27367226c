import * as assert from 'assert';
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { REPO_ROOT } from '../support/taskRun';

describe('npm run demo', function () {
  this.timeout(60_000);

  it('runs the three tasks against the sandbox and passes', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'build', 'tests', 'demo', 'runDemo.js')], { cwd: REPO_ROOT });
    for (const task of ['PrivateAksDeployV1', 'AcrNetworkRuleSyncV1', 'ServiceConnectionRoleCheckV1']) {
      assert.match(stdout, new RegExp(`━━ ${task} ━━ Succeeded`));
    }
    assert.match(stdout, /Federated subject\s+: sc:\/\/contoso\/web\/prod-aks-wif/);
    assert.match(stdout, /Demo passed/);
  });
});
