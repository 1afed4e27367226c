/**
 * kubectl's exec credential plugin (client.authentication.k8s.io/v1): prints an ExecCredential
 * with a short-lived AKS token fetched from the task's token broker. It never prompts (the
 * kubeconfig sets interactiveMode: Never, so a device-code flow is impossible) and holds no
 * secret of its own: the broker address and key come from kubectl's environment.
 */
import * as http from 'http';

const URL_ENV = 'PRIVATE_AKS_DEPLOY_TOKEN_BROKER';
const KEY_ENV = 'PRIVATE_AKS_DEPLOY_TOKEN_BROKER_KEY';
const TIMEOUT_MS = 65_000;

function fail(message: string): never {
  process.stderr.write(`PrivateAksDeploy credential plugin: ${message}\n`);
  process.exit(1);
}

const url = process.env[URL_ENV];
const key = process.env[KEY_ENV];
if (!url || !key) {
  fail(`${URL_ENV} is not set: this plugin only works for kubectl started by the PrivateAksDeploy task.`);
}

const req = http.get(url, { headers: { Authorization: `Bearer ${key}` }, timeout: TIMEOUT_MS }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => {
    if (res.statusCode !== 200) fail(`the task could not get an AKS token (HTTP ${res.statusCode}): ${body}`);
    const { token, expiresOn } = JSON.parse(body) as { token: string; expiresOn: string };
    const apiVersion = (() => {
      try {
        return JSON.parse(process.env.KUBERNETES_EXEC_INFO ?? '{}').apiVersion || 'client.authentication.k8s.io/v1';
      } catch {
        return 'client.authentication.k8s.io/v1';
      }
    })();
    process.stdout.write(JSON.stringify({ apiVersion, kind: 'ExecCredential', status: { token, expirationTimestamp: expiresOn } }));
  });
});
req.on('timeout', () => req.destroy(new Error(`no answer from the task within ${TIMEOUT_MS / 1000} s`)));
req.on('error', (err) => fail(`the task's token broker is unreachable: ${err.message}`));
