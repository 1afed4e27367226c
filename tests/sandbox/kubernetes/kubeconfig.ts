/**
 * Kubeconfig documents for the sandbox AKS API server (YAML text, as `az aks get-credentials`
 * writes them), with a minimal YAML emitter (strings are always double-quoted JSON strings,
 * which YAML reads as they are).
 */

export interface KubeconfigUser {
  /** Static bearer token (`users[].user.token`). */
  token?: string;
  /** Credential plugin (`users[].user.exec`), e.g. kubelogin. */
  exec?: {
    apiVersion?: string;
    command: string;
    args?: string[];
    env?: Array<{ name: string; value: string }> | null;
    provideClusterInfo?: boolean;
    interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
    installHint?: string;
  };
  'client-certificate-data'?: string;
  'client-key-data'?: string;
}

export interface KubeconfigOptions {
  /** Cluster, context and (by default) user name stem. */
  name: string;
  /** `https://<fqdn>:443` or `https://127.0.0.1:<port>`. */
  server: string;
  caPem: string;
  /** `tls-server-name`: the name the serving certificate is checked against (loopback access). */
  tlsServerName?: string;
  user: KubeconfigUser;
  /** Default: `clusterUser_<name>`. */
  userName?: string;
  namespace?: string;
}

type Yaml = string | number | boolean | null | undefined | Yaml[] | { [key: string]: Yaml };

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Block-style YAML for plain data (no anchors, no multi-line scalars). */
export function toYaml(value: Yaml, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (
          item !== null &&
          typeof item === 'object' &&
          !(Array.isArray(item) && item.length === 0) &&
          !(!Array.isArray(item) && Object.keys(item).length === 0)
        ) {
          const nested = toYaml(item, indent + 2);
          return `${pad}- ${nested.slice(indent + 2)}`;
        }
        return `${pad}- ${inline(item)}\n`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        const key = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k);
        if (v !== null && typeof v === 'object' && !(Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0)) {
          return `${pad}${key}:\n${toYaml(v, Array.isArray(v) ? indent : indent + 2)}`;
        }
        return `${pad}${key}: ${inline(v)}\n`;
      })
      .join('');
  }
  return `${pad}${inline(value)}\n`;
}

function inline(value: Yaml): string {
  if (Array.isArray(value)) return value.length === 0 ? '[]' : JSON.stringify(value);
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? '{}' : JSON.stringify(value);
  return scalar(value ?? null);
}

export function renderKubeconfig(options: KubeconfigOptions): string {
  const userName = options.userName ?? `clusterUser_${options.name}`;
  const cluster: Record<string, Yaml> = {
    'certificate-authority-data': Buffer.from(options.caPem, 'utf8').toString('base64'),
    server: options.server,
  };
  if (options.tlsServerName) cluster['tls-server-name'] = options.tlsServerName;
  const context: Record<string, Yaml> = { cluster: options.name, user: userName };
  if (options.namespace) context.namespace = options.namespace;
  const user: Record<string, Yaml> = {};
  if (options.user.token) user.token = options.user.token;
  if (options.user['client-certificate-data']) user['client-certificate-data'] = options.user['client-certificate-data'];
  if (options.user['client-key-data']) user['client-key-data'] = options.user['client-key-data'];
  if (options.user.exec) user.exec = { apiVersion: 'client.authentication.k8s.io/v1beta1', ...options.user.exec } as unknown as Yaml;
  return toYaml({
    apiVersion: 'v1',
    clusters: [{ cluster, name: options.name }],
    contexts: [{ context, name: options.name }],
    'current-context': options.name,
    kind: 'Config',
    preferences: {},
    users: [{ name: userName, user }],
  });
}
