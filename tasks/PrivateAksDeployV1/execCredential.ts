/**
 * kubectl's exec credential plugin (client.authentication.k8s.io/v1): prints an ExecCredential
 * with a short-lived AKS token fetched from the task's token broker. It never prompts (the
 * kubeconfig sets interactiveMode: Never, so a device-code flow is impossible) and holds no
 * secret of its own: the broker address and key come from kubectl's environment.
 */
import * as http from 'http';
import {
  BROKER_KEY_ENV as KEY_ENV,
  BROKER_URL_ENV as URL_ENV,
  brokerAuthorization,
  execCredentialOf,
  parseBrokerTokenBody,
} from '../../shared/azure/aks/tokenBrokerProtocol';

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

const req = http.get(url, { headers: { Authorization: brokerAuthorization(key) }, timeout: TIMEOUT_MS }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => {
    if (res.statusCode !== 200) fail(`the task could not get an AKS token (HTTP ${res.statusCode}): ${body}`);
    let answer;
    try {
      answer = parseBrokerTokenBody(body);
    } catch (err) {
      fail(`the task's token broker gave no token: ${(err as Error).message}`);
    }
    process.stdout.write(JSON.stringify(execCredentialOf(answer, process.env.KUBERNETES_EXEC_INFO)));
  });
});
req.on('timeout', () => req.destroy(new Error(`no answer from the task within ${TIMEOUT_MS / 1000} s`)));
req.on('error', (err) => fail(`the task's token broker is unreachable: ${err.message}`));
