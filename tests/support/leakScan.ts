import * as fs from 'fs';
import * as path from 'path';
import { liveIssuedSecrets } from '../sandbox/liveSecrets';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** A PEM's base64 lines, split into those of public blocks (certificates, public keys) and the rest (keys). */
function pemLines(pem: string): { secret: string[]; public: string[] } {
  const lines = { secret: [] as string[], public: [] as string[] };
  for (const [, label, body] of pem.matchAll(PEM_BLOCK)) {
    const bodyLines = body
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length >= 40);
    (/CERTIFICATE|PUBLIC KEY/.test(label) ? lines.public : lines.secret).push(...bodyLines);
  }
  return lines;
}

/**
 * The base64 text of a value wherever it sits in a larger encoded blob: for each of the three
 * byte alignments, the characters that depend on the value's bytes alone (standard and URL-safe).
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const core = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
    forms.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

/**
 * Every printable form of a secret a log or a file could carry: as is, base64 (at any alignment,
 * standard or URL-safe), URL-encoded, JSON-escaped (with `/` escaped or not). The agent masks the
 * raw, JSON- and URI-escaped forms of registered secrets only (microsoft/azure-pipelines-agent
 * src/Microsoft.VisualStudio.Services.Agent/HostContext.cs value encoders), never a base64 form
 * of one; a file in the temp directory is not masked at all.
 */
function printableForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  return [value, ...base64Forms(value), encodeURIComponent(value), json, json.replace(/\//g, '\\/')];
}

/** The values to look for: JWTs also by payload and signature alone (a token cut short still leaks), PEM keys by line. */
function needlesOf(secrets: string[], publicLines: Set<string>): Map<string, string> {
  const needles = new Map<string, string>(); // form → the secret it reveals (reported by prefix only)
  for (const s of secrets) {
    const parts = s.includes('-----BEGIN') ? pemLines(s).secret : [s];
    const jwt = /^[\w-]+\.([\w-]+)\.([\w-]{40,})$/.exec(s);
    if (jwt) parts.push(jwt[1], jwt[2]);
    for (const part of parts) {
      if (publicLines.has(part)) continue;
      for (const form of printableForms(part)) if (form.length >= 8 && !needles.has(form)) needles.set(form, s);
    }
  }
  return needles;
}

/**
 * Every secret found in the text, in any printable form, for leak assertions (reports which,
 * never the value itself). Lines of public PEM blocks (a CA or client certificate) are not secrets.
 */
export function leakedSecrets(text: string, secrets: string[]): string[] {
  const publicLines = new Set(secrets.flatMap((s) => (s.includes('-----BEGIN') ? pemLines(s).public : [])));
  // Also with whitespace removed: a token or its base64 wrapped over several lines (base64 -w 76, PEM-style) still leaks.
  const unwrapped = text.replace(/\s+/g, '');
  const found = new Set<string>();
  for (const [form, secret] of needlesOf(secrets, publicLines))
    if (text.includes(form) || unwrapped.includes(form)) found.add(`${secret.slice(0, 4)}…(${secret.length} chars)`);
  return [...found];
}

/** What reaches the job log: all output but the setsecret commands the agent consumes to mask. */
export function loggedText(stdout: string, stderr = ''): string {
  return (stdout + '\n' + stderr)
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('##vso[task.setsecret]'))
    .join('\n');
}

/** Files under a directory (recursively), skipping what cannot be read. */
function filesUnder(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(full);
    return e.isFile() ? [full] : [];
  });
}

/** Large rendered manifests are not where a token hides; reading 4 MiB of each keeps the scan quick. */
const MAX_SCANNED_BYTES = 4 * 1024 * 1024;

function head(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(fs.fstatSync(fd).size, MAX_SCANNED_BYTES));
    fs.readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    fs.closeSync(fd);
  }
}

/** Values a task registered with the agent's masking (task.setsecret): secrets the task itself made, like the token broker's key. */
export function registeredValues(stdout: string): string[] {
  const prefix = '##vso[task.setsecret]';
  return stdout
    .split(/\r?\n/)
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length))
    .filter((v) => v.length >= 8);
}

/** Authorization parameters that let someone in (serviceprincipalkey, servicePrincipalCertificate, AccessToken, password…); ids and issuers are not. */
const SECRET_PARAMETER = /key|certificate|secret|token|password/i;

/**
 * The secrets the agent handed the task: secret variables (`SECRET_<NAME>`, e.g. Agent.ProxyPassword,
 * as task-lib's vault reads them), the job's access token, and the credentials among the
 * connections' authorization parameters (`ENDPOINT_AUTH_<id>`).
 */
export function environmentSecrets(env: Record<string, string | undefined>): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (name.startsWith('SECRET_') || name === 'SYSTEM_ACCESSTOKEN') values.push(value);
    if (/^ENDPOINT_AUTH_(?!SCHEME_|PARAMETER_)/.test(name)) {
      try {
        const parameters = (JSON.parse(value) as { parameters?: Record<string, unknown> }).parameters ?? {};
        for (const [key, v] of Object.entries(parameters)) if (typeof v === 'string' && SECRET_PARAMETER.test(key)) values.push(v);
      } catch {
        // not JSON: not the agent's format
      }
    }
  }
  return values.filter((v) => v.length >= 8);
}

/**
 * task-lib's getVariable writes `<name>=<value>` to the debug stream for every variable it reads,
 * secret ones included (microsoft/azure-pipelines-task-lib node/internal.ts `_getVariable`, called by
 * `_exposeProxySettings` for Agent.ProxyPassword while loading). The agent masks those: secret
 * variables are in its masker from the start (microsoft/azure-pipelines-agent src/Agent.Worker/Worker.cs
 * InitializeSecretMasker). That line, and only it, is not the task's leak.
 */
function withoutTaskLibVariableDebug(text: string, env: Record<string, string | undefined>): string {
  const secretVariables = new Set(
    Object.entries(env)
      .filter(([name, v]) => name.startsWith('SECRET_') && v)
      .map(([, v]) => v as string),
  );
  if (secretVariables.size === 0) return text;
  return text
    .split('\n')
    .filter((line) => {
      const m = /^##vso\[task\.debug\][\w.]+=(.*)$/.exec(line);
      return !(m && secretVariables.has(m[1]));
    })
    .join('\n');
}

/**
 * Leaks of any secret of a run into its log or into a file left in the agent's temp directory,
 * one line per finding: what a running sandbox issued (tokens, secrets, keys, OIDC tokens), what
 * the agent handed the task (its environment), and what the task registered as secret itself.
 * `run` is the task's environment (or, for older callers, just its temp directory).
 */
export function leaksOfRun(
  stdout: string,
  stderr: string,
  run: Record<string, string | undefined> | string | undefined,
  issued = liveIssuedSecrets(),
): string[] {
  const env = typeof run === 'string' ? { AGENT_TEMPDIRECTORY: run } : (run ?? {});
  const tempDirectory = env.AGENT_TEMPDIRECTORY;
  const secrets = [...new Set([...issued, ...environmentSecrets(env), ...registeredValues(stdout)])];
  if (secrets.length === 0) return [];
  const findings = leakedSecrets(withoutTaskLibVariableDebug(loggedText(stdout, stderr), env), secrets).map((s) => `log: ${s}`);
  if (tempDirectory) {
    for (const file of filesUnder(tempDirectory)) {
      for (const s of leakedSecrets(head(file), secrets)) findings.push(`${path.relative(tempDirectory, file)}: ${s}`);
    }
  }
  return findings;
}
