import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { parse, stringify } from 'yaml';
import { ExplainedError } from '../pipeline/explainedError';
import { registerSecret } from '../pipeline/secrets';

/** The parts of a kubeconfig the task reads and rewrites. */
export interface Kubeconfig {
  apiVersion: string;
  kind: string;
  'current-context'?: string;
  clusters: {
    name: string;
    cluster: { server: string; 'certificate-authority-data'?: string; 'tls-server-name'?: string } & Record<string, unknown>;
  }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  users: { name: string; user: Record<string, unknown> }[];
  preferences?: Record<string, unknown>;
}

export interface ExecCredentialPlugin {
  command: string;
  args: string[];
  /** Defaults to client.authentication.k8s.io/v1. */
  apiVersion?: string;
}

function invalid(reason: string): ExplainedError {
  return new ExplainedError({
    what: 'Reading the cluster credential from Azure',
    reason: `The kubeconfig AKS returned is not usable: ${reason}.`,
    fix: 'Retry; if it persists, check the cluster in the portal (it may be stopped or failed).',
    code: 'INVALID_KUBECONFIG',
  });
}

/** Parses a kubeconfig (YAML or JSON) and checks it names one cluster, user and context to use. */
export function parseKubeconfig(text: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 50 });
  } catch (err) {
    throw invalid(`it is not YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const k = doc as Partial<Kubeconfig> | null;
  if (!k || typeof k !== 'object' || !Array.isArray(k.clusters) || !Array.isArray(k.users) || !Array.isArray(k.contexts)) {
    throw invalid('it has no clusters, users and contexts');
  }
  const kubeconfig = k as Kubeconfig;
  registerCredentials(kubeconfig);
  currentContext(kubeconfig);
  return kubeconfig;
}

/** Secret fields of a kubeconfig user (client-go's AuthInfo, and the legacy auth-provider config). */
const SECRET_USER_FIELDS = ['token', 'password', 'client-key-data'];
const SECRET_AUTH_PROVIDER_FIELDS = ['access-token', 'refresh-token', 'id-token', 'client-secret'];

/**
 * Registers every credential a kubeconfig carries with the agent's masking, as soon as it is read:
 * a cluster without Entra ID, or an admin credential, hands out a static token (and on AKS a client
 * certificate's key) that kubectl could print in an error or at a high verbosity. The agent masks
 * no base64 form of a secret (it adds JSON, URI and backslash encoders only: HostContext.cs in
 * microsoft/azure-pipelines-agent), so client-key-data is registered as written and decoded.
 */
function registerCredentials(k: Kubeconfig): void {
  for (const entry of k.users) {
    const user = entry?.user;
    if (!user || typeof user !== 'object') continue;
    for (const field of SECRET_USER_FIELDS) {
      const value = user[field];
      if (typeof value !== 'string') continue;
      registerSecret(value);
      if (field === 'client-key-data') registerSecret(Buffer.from(value, 'base64').toString('utf8'));
    }
    const config = (user['auth-provider'] as { config?: Record<string, unknown> } | undefined)?.config;
    for (const field of SECRET_AUTH_PROVIDER_FIELDS) if (typeof config?.[field] === 'string') registerSecret(config[field] as string);
  }
}

function currentContext(k: Kubeconfig) {
  const name = k['current-context'] ?? k.contexts[0]?.name;
  const context = k.contexts.find((c) => c.name === name);
  if (!context) throw invalid(`its current context '${name}' does not exist`);
  const cluster = k.clusters.find((c) => c.name === context.context.cluster);
  if (!cluster?.cluster?.server) throw invalid(`the context's cluster '${context.context.cluster}' has no server`);
  return { context, cluster };
}

/** The API server URL and CA of the current context. */
export function apiServerOf(k: Kubeconfig): { server: string; caPem?: string; tlsServerName?: string } {
  const { cluster } = currentContext(k);
  const caData = cluster.cluster['certificate-authority-data'];
  return {
    server: cluster.cluster.server,
    caPem: caData ? Buffer.from(caData, 'base64').toString('utf8') : undefined,
    tlsServerName: cluster.cluster['tls-server-name'],
  };
}

/** Whether the current user is AKS's kubelogin exec user (an Entra ID cluster's user credential). */
export function usesEntraExec(k: Kubeconfig): boolean {
  const { context } = currentContext(k);
  const user = k.users.find((u) => u.name === context.context.user)?.user;
  return !!user && typeof user.exec === 'object';
}

/**
 * Replaces the current context's user with an exec credential plugin that never prompts: the
 * kubeconfig then holds no token, no secret and no kubelogin device-code flow.
 */
export function withExecCredential(k: Kubeconfig, plugin: ExecCredentialPlugin, namespace?: string): Kubeconfig {
  const { context } = currentContext(k);
  const userName = 'private-aks-deploy';
  return {
    ...k,
    'current-context': context.name,
    contexts: k.contexts.map((c) =>
      c.name === context.name ? { name: c.name, context: { ...c.context, user: userName, ...(namespace ? { namespace } : {}) } } : c,
    ),
    users: [
      {
        name: userName,
        user: {
          exec: {
            apiVersion: plugin.apiVersion ?? 'client.authentication.k8s.io/v1',
            command: plugin.command,
            args: plugin.args,
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        },
      },
    ],
  };
}

/**
 * Writes the kubeconfig 0600 into a new 0700 folder under the agent's temp directory and returns
 * its path and the function that removes both.
 */
export function writeKubeconfig(tempRoot: string, k: Kubeconfig): { path: string; remove: () => void } {
  const dir = path.join(tempRoot, `private-aks-deploy-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'kubeconfig');
  fs.writeFileSync(file, stringify(k), { mode: 0o600, flag: 'wx' });
  return { path: file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
