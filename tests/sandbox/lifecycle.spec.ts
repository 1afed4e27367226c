import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import { demoScenario } from '../../tools/demo/demoScenario';
import { startSandbox } from './index';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('sandbox lifecycle', function () {
  this.timeout(30_000);

  it('starts the whole demo world in a few seconds and leaves nothing behind', async () => {
    const started = Date.now();
    const sandbox = await startSandbox(demoScenario(), { privateNetwork: true });
    const startMs = Date.now() - started;
    const ports = [
      new URL(sandbox.authorityHost).port,
      new URL(sandbox.oidcRequestUri).port,
      new URL(sandbox.imdsEndpoint).port,
      String(sandbox.azure.arm.port),
      ...[...sandbox.azure.clusters.values()].map((c) => String(c.port)),
      ...[...sandbox.azure.registries.values()].flatMap((r) => [String(r.port), String(r.privateEndpointPort)]),
    ].map(Number);
    const namespaces = sandbox.network ? [sandbox.network.inside.name, sandbox.network.outside.name] : [];
    const tempDir = sandbox.tempDir;
    assert.ok(startMs < 5_000, `start took ${startMs} ms`);
    for (const port of ports) assert.strictEqual(await refused(port), false, `port ${port} is not listening`);

    await sandbox.stop();
    for (const port of ports) assert.ok(await refused(port), `port ${port} still listens after stop`);
    assert.ok(!fs.existsSync(tempDir), 'the temp dir is still there');
    if (namespaces.length) {
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      for (const ns of namespaces) {
        assert.ok(!left.includes(ns), `namespace ${ns} is still there`);
        assert.ok(!fs.existsSync(`/etc/netns/${ns}`), `/etc/netns/${ns} is still there`);
      }
    } else {
      console.log(`      (private network unavailable: ${sandbox.networkUnavailable})`);
    }
  });
});
