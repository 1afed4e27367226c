import * as path from 'path';

/** A build summary section a task attached: its title and the Markdown file. */
export interface UploadedSummary {
  title: string;
  file: string;
}

/**
 * The summaries a task's output attached, as the agent reads them: task.addattachment of type
 * Distributedtask.Core.Summary (titled by its name) or task.uploadsummary (titled by the file name).
 */
export function uploadedSummaries(stdout: string): UploadedSummary[] {
  const found: UploadedSummary[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const attached = /^##vso\[task\.addattachment ([^\]]*)\](.+)$/.exec(line);
    if (attached) {
      const props = Object.fromEntries(
        attached[1]
          .split(';')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      if (props.type === 'Distributedtask.Core.Summary')
        found.push({ title: props.name ?? path.basename(attached[2]), file: attached[2].trim() });
      continue;
    }
    const uploaded = /^##vso\[task\.uploadsummary\](.+)$/.exec(line);
    if (uploaded) found.push({ title: path.basename(uploaded[1].trim()), file: uploaded[1].trim() });
  }
  return found;
}
