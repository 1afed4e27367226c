/**
 * The sandbox's private network: processes in the "inside the VNet" namespace resolve private names
 * through the OS resolver and reach sandbox servers through them; outside they get NXDOMAIN; and
 * the blackhole / refused / TLS-mismatch endpoints fail the way real networks fail. Needs root
 * (network namespaces); skips with the reason otherwise.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AcrDataEndpoint, type AcrNetworkState } from '../acr/acrDataEndpoint';
import { FaultInjector } from '../faults';
import { exec, listSandboxNamespaces, NETNS_ETC_DIR } from './netns';
import { PrivateNetwork, type RunResult } from './network';
import { RequestLog } from '../requestLog';
import { createTestCa, type TestCa } from '../testCa';

const AKS_FQDN = 'aks-prod-4f1c2b7e.0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6.privatelink.eastus.azmk8s.io';
const ACR_NAME = 'contosoacr';

/** A Node one-liner's JSON output. */
function json(result: RunResult): Record<string, unknown> {
  assert.equal(result.code, 0, `exit ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('sandbox private network (network namespaces)', function () {
  this.timeout(20_000);

  let network: PrivateNetwork | undefined;
  let ca: TestCa;
  let caFile: string;
  let tempDir: string;
  let aksServer: https.Server;
  let acr: AcrDataEndpoint;
  let acrState: AcrNetworkState;
  let startMs = 0;

  before(async function () {
    const availability = await PrivateNetwork.available();
    if (!availability.ok) {
      console.log(`      skipping the private network tests: ${availability.reason}`);
      this.skip();
    }
    ca = createTestCa();
    tempDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pad-network-spec-'));
    caFile = path.join(tempDir, 'ca.pem');
    await fsp.writeFile(caFile, ca.certPem);

    const cert = ca.issueServerCertificate([AKS_FQDN], ['127.0.0.1']);
    aksServer = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ major: '1', minor: '31', gitVersion: 'v1.31.2', host: req.headers.host }));
    });
    await new Promise<void>((resolve) => aksServer.listen(0, '127.0.0.1', resolve));
    const aksPort = (aksServer.address() as AddressInfo).port;

    acrState = {
      publicNetworkAccess: 'Enabled',
      networkRuleSet: { defaultAction: 'Deny', ipRules: [] },
      lastNetworkChangeAt: 0,
      firewallPropagationSeconds: 2,
    };
    acr = await AcrDataEndpoint.start({
      registryName: ACR_NAME,
      getRegistry: () => acrState,
      context: { ca, log: new RequestLog(), faults: new FaultInjector() },
    });

    const started = Date.now();
    network = await PrivateNetwork.start({
      names: [
        { fqdn: AKS_FQDN, target: { port: aksPort } },
        { fqdn: `${ACR_NAME}.privatelink.azurecr.io`, target: { port: acr.privateEndpointPort } },
        // Inside, the public name is a CNAME into the linked private zone, as in Azure.
        { fqdn: `${ACR_NAME}.azurecr.io`, target: { cname: `${ACR_NAME}.privatelink.azurecr.io` } },
      ],
      publicNames: [{ fqdn: `${ACR_NAME}.azurecr.io`, target: { port: acr.port } }],
      loopbackPorts: [aksPort],
      ca,
    });
    startMs = Date.now() - started;
  });

  after(async () => {
    await network?.stop();
    await acr?.close();
    if (aksServer) await new Promise<void>((resolve) => aksServer.close(() => resolve()));
    if (tempDir) await fsp.rm(tempDir, { recursive: true, force: true });
  });

  it('starts in well under 2 s', () => {
    assert.ok(startMs < 2000, `start took ${startMs} ms`);
  });

  it('inside: the OS resolver (getent) gives the private address of the AKS name', async () => {
    const r = await network!.run('getent', ['hosts', AKS_FQDN], { inside: true, timeoutMs: 5000 });
    assert.equal(r.code, 0, r.stderr);
    const [address, name] = r.stdout.trim().split(/\s+/);
    assert.equal(name, AKS_FQDN);
    assert.equal(address, network!.addressOf(AKS_FQDN, true));
    assert.match(address, /^10\.224\.0\.\d+$/);
  });

  it('inside: Node dns.lookup resolves it and HTTPS reaches the server through the private address', async () => {
    const script = `
            const dns = require('dns'); const https = require('https');
            dns.lookup(${JSON.stringify(AKS_FQDN)}, { all: true }, (err, addresses) => {
              if (err) { console.log(JSON.stringify({ error: err.code })); return; }
              https.get('https://${AKS_FQDN}/version', (res) => {
                const remote = res.socket.remoteAddress; const port = res.socket.remotePort;
                let body = ''; res.on('data', (c) => body += c);
                res.on('end', () => { console.log(JSON.stringify({ addresses, status: res.statusCode, body: JSON.parse(body), remote, port })); process.exit(0); });
              }).on('error', (e) => console.log(JSON.stringify({ addresses, error: e.code })));
            });`;
    const out = json(
      await network!.runNode(['-e', script], { inside: true, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }, timeoutMs: 10_000 }),
    );
    const address = network!.addressOf(AKS_FQDN, true)!;
    assert.deepEqual(out.addresses, [{ address, family: 4 }]);
    assert.equal(out.status, 200, JSON.stringify(out));
    assert.equal((out.body as { gitVersion: string }).gitVersion, 'v1.31.2');
    assert.equal((out.body as { host: string }).host, AKS_FQDN);
    assert.equal(out.remote, address);
    assert.equal(out.port, 443);
    assert.ok(network!.connections.some((c) => c.view === 'inside' && c.address === address && c.port === 443));
  });

  it('outside: the private name does not exist (NXDOMAIN → getent exit 2, Node ENOTFOUND)', async () => {
    const g = await network!.run('getent', ['hosts', AKS_FQDN], { inside: false, timeoutMs: 5000 });
    assert.equal(g.code, 2, `getent exit ${g.code}: ${g.stdout}${g.stderr}`);
    const script = `require('dns').lookup(${JSON.stringify(AKS_FQDN)}, (err, a) => console.log(JSON.stringify({ code: err && err.code, syscall: err && err.syscall, a })));`;
    const out = json(await network!.runNode(['-e', script], { inside: false, timeoutMs: 5000 }));
    assert.equal(out.code, 'ENOTFOUND');
    assert.equal(out.syscall, 'getaddrinfo');
    const outsideQueries = network!.dnsQueries.filter((q) => q.view === 'outside' && q.name === AKS_FQDN);
    assert.ok(outsideQueries.length > 0 && outsideQueries.every((q) => q.rcode === 'NXDOMAIN'), JSON.stringify(outsideQueries));
  });

  it('blackholed address: connect hangs until the client gives up (2 s)', async () => {
    const { privateAddress } = network!.endpoints.blackhole;
    const script = `
            const net = require('net'); const t0 = Date.now();
            const s = net.connect({ host: ${JSON.stringify(privateAddress)}, port: 443 });
            s.on('connect', () => { console.log(JSON.stringify({ outcome: 'connected', ms: Date.now() - t0 })); process.exit(0); });
            s.on('error', (e) => { console.log(JSON.stringify({ outcome: 'error', code: e.code, ms: Date.now() - t0 })); process.exit(0); });
            setTimeout(() => { console.log(JSON.stringify({ outcome: 'timeout', ms: Date.now() - t0 })); process.exit(0); }, 2000);`;
    const out = json(await network!.runNode(['-e', script], { inside: true, timeoutMs: 10_000 }));
    assert.equal(out.outcome, 'timeout', JSON.stringify(out));
    assert.ok((out.ms as number) >= 1990, JSON.stringify(out));
  });

  it('refused port: ECONNREFUSED at once', async () => {
    const script = `
            const net = require('net'); const t0 = Date.now(); const results = [];
            const targets = [[${JSON.stringify(network!.endpoints.refused.privateAddress)}, 443], ['refused.sandbox.test', 443], [${JSON.stringify(network!.addressOf(AKS_FQDN, true))}, 8443]];
            const next = () => {
              const t = targets.shift(); if (!t) { console.log(JSON.stringify(results)); return; }
              const t1 = Date.now(); const s = net.connect({ host: t[0], port: t[1] });
              s.on('connect', () => { results.push({ target: t, outcome: 'connected' }); s.destroy(); next(); });
              s.on('error', (e) => { results.push({ target: t, code: e.code, ms: Date.now() - t1 }); next(); });
            };
            next();`;
    const out = json(await network!.runNode(['-e', script], { inside: true, timeoutMs: 5000 })) as unknown as {
      code: string;
      ms: number;
    }[];
    assert.equal(out.length, 3);
    for (const r of out) {
      assert.equal(r.code, 'ECONNREFUSED', JSON.stringify(r));
      assert.ok(r.ms < 500, JSON.stringify(r));
    }
  });

  it('TLS name mismatch endpoint: ERR_TLS_CERT_ALTNAME_INVALID', async () => {
    const script = `
            require('https').get('https://${network!.endpoints.tlsMismatch.fqdn}/', (res) => { console.log(JSON.stringify({ status: res.statusCode })); process.exit(0); })
              .on('error', (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const out = json(
      await network!.runNode(['-e', script], { inside: true, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }, timeoutMs: 5000 }),
    );
    assert.equal(out.code, 'ERR_TLS_CERT_ALTNAME_INVALID', JSON.stringify(out));
    assert.match(String(out.message), /other-host\.sandbox\.test/);
  });

  it('sandbox loopback ports stay reachable as 127.0.0.1:<port> inside the namespaces', async () => {
    const port = (aksServer.address() as AddressInfo).port;
    const script = `
            require('https').get({ host: '127.0.0.1', port: ${port}, path: '/version' }, (res) => { console.log(JSON.stringify({ status: res.statusCode })); process.exit(0); })
              .on('error', (e) => console.log(JSON.stringify({ code: e.code })));`;
    for (const inside of [true, false]) {
      const out = json(
        await network!.runNode(['-e', script], { inside, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }, timeoutMs: 5000 }),
      );
      assert.equal(out.status, 200, `${inside ? 'inside' : 'outside'}: ${JSON.stringify(out)}`);
    }
  });

  it('ACR: through the private endpoint inside → 401 challenge; through the public endpoint outside → 403 firewall', async () => {
    const script = `
            const dns = require('dns');
            dns.lookup('${ACR_NAME}.azurecr.io', (err, address) => {
              if (err) { console.log(JSON.stringify({ error: err.code })); return; }
              require('https').get('https://${ACR_NAME}.azurecr.io/v2/', (res) => {
                let body = ''; res.on('data', (c) => body += c);
                res.on('end', () => { console.log(JSON.stringify({ address, status: res.statusCode, body, auth: res.headers['www-authenticate'] })); process.exit(0); });
              }).on('error', (e) => console.log(JSON.stringify({ address, error: e.code })));
            });`;
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: caFile };
    const inside = json(await network!.runNode(['-e', script], { inside: true, env, timeoutMs: 5000 }));
    assert.match(String(inside.address), /^10\.224\.0\./);
    assert.equal(inside.status, 401, JSON.stringify(inside));
    assert.equal(inside.auth, `Bearer realm="https://${ACR_NAME}.azurecr.io/oauth2/token",service="${ACR_NAME}.azurecr.io"`);
    const outside = json(await network!.runNode(['-e', script], { inside: false, env, timeoutMs: 5000 }));
    assert.match(String(outside.address), /^198\.51\.100\./);
    assert.equal(outside.status, 403, JSON.stringify(outside));
    assert.match(String(outside.body), /client with IP \\u0027203\.0\.113\.10\\u0027 is not allowed access/);
  });

  it('DNS faults and record changes apply at once (SERVFAIL → EAI_AGAIN, removed private record → NXDOMAIN)', async () => {
    network!.setDnsFault(AKS_FQDN, { kind: 'servfail' }, ['inside']);
    const servfail = await network!.runNode(
      ['-e', `require('dns').lookup(${JSON.stringify(AKS_FQDN)}, (e) => console.log(JSON.stringify({ code: e && e.code })))`],
      { inside: true, timeoutMs: 5000 },
    );
    network!.setDnsFault(AKS_FQDN, undefined);
    assert.equal(json(servfail).code, 'EAI_AGAIN');
    network!.removeName('private', `${ACR_NAME}.privatelink.azurecr.io`);
    const g = await network!.run('getent', ['hosts', `${ACR_NAME}.azurecr.io`], { inside: true, timeoutMs: 5000 });
    assert.equal(g.code, 2, g.stdout);
  });

  it('a test process that exits without stop() cleans up on exit; one that is SIGKILLed is cleaned by cleanupStale()', async () => {
    const script = `
            const { PrivateNetwork } = require(${JSON.stringify(path.join(__dirname, 'network.js'))});
            PrivateNetwork.start({}).then((n) => {
              console.log(JSON.stringify([n.inside.name, n.outside.name]));
              if (process.argv[1] === 'exit') process.exit(3);
              setInterval(() => undefined, 1000);
            });`;
    const startChild = (mode: string): Promise<{ child: ChildProcess; names: string[] }> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', script, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve({ child, names: JSON.parse(out.split('\n')[0]) as string[] });
        });
        child.once('error', reject);
        child.once('exit', (code) => {
          if (!out.includes('\n')) reject(new Error(`child exited ${code} before starting a network`));
        });
      });
    const leftovers = async (names: string[]): Promise<string[]> => {
      const listed = await listSandboxNamespaces();
      return names.filter((n) => listed.includes(n) || existsSync(path.join(NETNS_ETC_DIR, n)));
    };

    const exiting = await startChild('exit');
    await new Promise((resolve) => (exiting.child.exitCode !== null ? resolve(undefined) : exiting.child.once('exit', resolve)));
    assert.deepEqual(await leftovers(exiting.names), [], 'the exit hook removed everything');

    const killed = await startChild('hang');
    const gone = new Promise((resolve) => killed.child.once('exit', resolve));
    killed.child.kill('SIGKILL');
    await gone;
    assert.deepEqual(await leftovers(killed.names), killed.names, 'SIGKILL leaves the namespaces');
    const cleaned = await PrivateNetwork.cleanupStale();
    assert.deepEqual([...cleaned.namespaces].sort(), [...killed.names].sort());
    assert.deepEqual(await leftovers(killed.names), []);
    assert.ok(
      network!.inside.name && (await listSandboxNamespaces()).includes(network!.inside.name),
      "this process's live network is untouched",
    );
  });

  it('stop() leaves nothing behind: no namespaces, veths, /etc/netns dirs or processes', async () => {
    const ns = [network!.inside.name, network!.outside.name];
    const agentPids = (await Promise.all(ns.map((n) => exec('ip', ['netns', 'pids', n])))).flatMap((r) =>
      r.stdout.split(/\s+/).filter(Boolean).map(Number),
    );
    assert.ok(agentPids.length >= 2, 'the namespace agents run before stop');
    const child = network!.spawn('sleep', ['30'], { inside: true });
    const started = Date.now();
    await network!.stop();
    const stopMs = Date.now() - started;
    const remaining = await listSandboxNamespaces();
    for (const name of ns) {
      assert.ok(!remaining.includes(name), `${name} still listed by 'ip netns list'`);
      assert.ok(!existsSync(path.join(NETNS_ETC_DIR, name)), `${NETNS_ETC_DIR}/${name} still exists`);
    }
    const links = await exec('ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, new RegExp(`pd${process.pid}-`));
    assert.ok(child.exitCode !== null || child.signalCode !== null, 'a process started in the namespace was killed');
    for (const pid of agentPids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} still alive`);
    assert.ok(stopMs < 2000, `stop took ${stopMs} ms`);
  });
});
