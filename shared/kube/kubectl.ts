import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { ExplainedError, invalidInput } from '../pipeline/explainedError';
import { kubectlProxyEnvironment } from '../net/agentHttpSettings';
import { trackChild } from '../pipeline/runTask';
import { parseKubeconfig } from './kubeconfig';

export interface KubectlResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Finds kubectl: the kubectlPath input when given, else on PATH. Says where it looked when it
 * is not there, and how to get it.
 */
export function locateKubectl(kubectlPath?: string): string {
  if (kubectlPath) {
    if (fs.existsSync(kubectlPath) && fs.statSync(kubectlPath).isFile()) return kubectlPath;
    throw invalidInput(
      'kubectlPath',
      `No kubectl at ${kubectlPath}.`,
      'Give the full path of the kubectl executable, or leave the input empty to use the one on PATH.',
      'KUBECTL_MISSING',
    );
  }
  const found = tl.which('kubectl', false);
  if (found) return found;
  const searched = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  throw new ExplainedError({
    what: 'Finding kubectl',
    reason: `kubectl is not on the agent's PATH (searched: ${searched.join(', ') || 'nothing: PATH is empty'}).`,
    fix: "Add a KubectlInstaller@0 step before this task, install kubectl on the agent, or set the input 'kubectlPath'.",
    code: 'KUBECTL_MISSING',
  });
}

/**
 * Runs kubectl with an argument list (never through a shell), its own kubeconfig and a
 * deadline; streams each output line to `onLine` as it comes.
 */
export function runKubectl(
  kubectl: string,
  args: string[],
  options: {
    kubeconfig: string;
    env?: Record<string, string>;
    deadlineMs: number;
    cwd?: string;
    input?: string;
    onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  },
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, args, {
      cwd: options.cwd,
      env: kubectlEnvironment(options.kubeconfig, options.env),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      shell: false,
      windowsHide: true,
      // Its own process group, so that a cancelled task stops kubectl and its credential plugin (runTask.ts).
      detached: true,
    });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const lineSplitter = (stream: 'stdout' | 'stderr') => {
      let pending = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (stream === 'stdout') stdout += text;
        else stderr += text;
        if (!options.onLine) return;
        pending += text;
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) options.onLine(line, stream);
      };
    };
    child.stdout!.on('data', lineSplitter('stdout'));
    child.stderr!.on('data', lineSplitter('stderr'));
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.deadlineMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr, timedOut });
    });
  });
}

/**
 * kubectl's environment: the task's, the agent's proxy for the kubeconfig's API servers (the agent
 * does not export it to tasks), the caller's additions, and its own kubeconfig.
 */
function kubectlEnvironment(kubeconfig: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const servers =
    kubeconfig && fs.existsSync(kubeconfig)
      ? parseKubeconfig(fs.readFileSync(kubeconfig, 'utf8')).clusters.map((c) => c.cluster.server)
      : [];
  return { ...process.env, ...kubectlProxyEnvironment(servers), ...extra, KUBECONFIG: kubeconfig };
}
