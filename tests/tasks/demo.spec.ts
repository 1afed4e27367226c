import * as assert from 'assert';
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { REPO_ROOT } from '../support/taskRun';

describe('npm run demo', function () {
  this.timeout(60_000);

  it('runs the three tasks against the sandbox and passes', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'build', 'tools', 'demo', 'runDemo.js')], {
      cwd: REPO_ROOT,
    });
    for (const title of [
      'ServiceConnectionRoleCheck',
      'AcrNetworkRuleSync',
      'PrivateAksDeploy from a Microsoft-hosted agent \\(outside the VNet\\)',
    ]) {
      assert.match(stdout, new RegExp(`━━ ${title} ━━ Succeeded`));
    }
    // Outside the VNet: the preflight's diagnosis, then the run command route.
    assert.match(stdout, /PRIVATE_DNS_UNRESOLVED|cannot resolve .*privatelink\.eastus\.azmk8s\.io/);
    assert.match(stdout, /deploying through AKS run command instead \(route: auto\)/);
    assert.match(stdout, /\[run command\] deployment "shop" successfully rolled out/);
    if (/agent namespaces inside and outside/.test(stdout)) {
      assert.match(stdout, /━━ PrivateAksDeploy from a self-hosted agent inside the VNet ━━ Succeeded/);
      assert.match(stdout, /Applied 3 object\(s\) to aks-prod via direct/);
    }
    assert.match(stdout, /Federated subject\s+: sc:\/\/contoso\/web\/prod-aks-wif/);
    assert.match(stdout, /Demo passed/);
  });
});
