/**
 * The build summary page a task adds to the run (the agent's task.uploadsummary command): Markdown
 * helpers the three tasks' pages share, and the upload itself.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';

export type Status = 'pass' | 'warn' | 'fail' | 'info';

/** One glyph per status, the same on every page, so a reader scans a column of them. */
export const STATUS_ICON: Record<Status, string> = { pass: '✅', warn: '⚠️', fail: '❌', info: 'ℹ️' };

/** Text made safe for a table cell: pipes escaped, line breaks kept as <br>. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** Inline code, safe in a table cell (the summary renderer takes no pipes inside backticks either). */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

/** A Markdown table; cells are taken as they are (use cell() or code() for data). */
export function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** A two-column "what: value" table, the head of every page. */
export function factTable(rows: [string, string | undefined][]): string[] {
  return table(
    ['', ''],
    rows.filter((r): r is [string, string] => r[1] !== undefined).map(([k, v]) => [`**${k}**`, v]),
  );
}

/**
 * Writes the page to the agent's temp directory (cleaned after the job) and attaches it to the run
 * as a summary section titled `title` (task.uploadsummary would title it with the file name).
 * Returns the file, or undefined when the agent gave no temp directory (a test harness).
 */
export function uploadSummaryPage(fileStem: string, title: string, markdown: string): string | undefined {
  const dir = tl.getVariable('Agent.TempDirectory');
  if (!dir || !fs.existsSync(dir)) return undefined;
  const file = path.join(dir, `${fileStem}-${process.pid}.md`);
  fs.writeFileSync(file, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  tl.addAttachment(SUMMARY_ATTACHMENT, title, file);
  return file;
}

/** The attachment type the agent shows on the run's summary (what task.uploadsummary sends). */
export const SUMMARY_ATTACHMENT = 'Distributedtask.Core.Summary';
