/**
 * The protocol between the task's token broker (tokenBroker.ts, in the task process) and kubectl's
 * exec credential plugin (tasks/PrivateAksDeployV1/execCredential.ts, a separate tiny bundle kubectl
 * runs): where the plugin finds the broker, how it proves it was started by this task, and what the
 * broker answers. Defined once, imported by both; it imports nothing, so the plugin stays tiny.
 *
 *   GET http://127.0.0.1:<port>/aks-token
 *   Authorization: Bearer <per-run random key>
 *   → 200 application/json {"token": "<AKS token>", "expiresOn": "<RFC 3339>"}
 *   → 401 wrong key, 404 anything else, 502 text/plain why no token could be had
 */

/** The broker's URL, in kubectl's environment only (never in the kubeconfig or a command line). */
export const BROKER_URL_ENV = 'PRIVATE_AKS_DEPLOY_TOKEN_BROKER';
/** The per-run key the plugin presents, in kubectl's environment only; registered as a secret. */
export const BROKER_KEY_ENV = 'PRIVATE_AKS_DEPLOY_TOKEN_BROKER_KEY';
/** The one path the broker answers. */
export const BROKER_TOKEN_PATH = '/aks-token';
/** Loopback only: the broker listens on no other address. */
export const BROKER_HOST = '127.0.0.1';

/** What the broker answers with a token. */
export interface BrokerTokenResponse {
  token: string;
  /** When the token expires, RFC 3339 (ExecCredential's status.expirationTimestamp). */
  expiresOn: string;
}

/** The broker's URL once it listens on `port`. */
export function brokerUrl(port: number): string {
  return `http://${BROKER_HOST}:${port}${BROKER_TOKEN_PATH}`;
}

/** The Authorization header value that carries the key. */
export function brokerAuthorization(key: string): string {
  return `Bearer ${key}`;
}

/** The broker's 200 body for a token expiring at `expiresOnTimestamp` (epoch ms). */
export function brokerTokenBody(token: string, expiresOnTimestamp: number): string {
  const body: BrokerTokenResponse = { token, expiresOn: new Date(expiresOnTimestamp).toISOString() };
  return JSON.stringify(body);
}

/** The broker's 200 body as the plugin reads it; throws when it is not one. */
export function parseBrokerTokenBody(text: string): BrokerTokenResponse {
  const body = JSON.parse(text) as Partial<BrokerTokenResponse>;
  if (typeof body.token !== 'string' || !body.token || typeof body.expiresOn !== 'string') {
    throw new Error('the answer carries no token and expiry');
  }
  return { token: body.token, expiresOn: body.expiresOn };
}

/** client.authentication.k8s.io/v1, unless kubectl asks for another version in KUBERNETES_EXEC_INFO (kubectl sets it for exec plugins). */
export function execCredentialApiVersion(execInfo: string | undefined): string {
  try {
    return (JSON.parse(execInfo ?? '{}') as { apiVersion?: string }).apiVersion || 'client.authentication.k8s.io/v1';
  } catch {
    return 'client.authentication.k8s.io/v1';
  }
}

/** The ExecCredential the plugin prints for kubectl (k8s.io/client-go/pkg/apis/clientauthentication/v1: status.token, status.expirationTimestamp). */
export function execCredentialOf(answer: BrokerTokenResponse, execInfo: string | undefined): object {
  return {
    apiVersion: execCredentialApiVersion(execInfo),
    kind: 'ExecCredential',
    status: { token: answer.token, expirationTimestamp: answer.expiresOn },
  };
}
