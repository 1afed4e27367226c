/**
 * `npm run screenshots`: runs the demo story (and a deploy whose rollout fails, in a second sandbox), renders each task's build summary to HTML styled like
 * Azure DevOps' summary tab, and has headless Chromium photograph it into images/summary-*.png for
 * the Marketplace page. Needs Debian's chromium (and fonts-noto-color-emoji for the status glyphs);
 * CI does not run it. CHROMIUM=/path/to/chrome picks another browser.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { marked } from 'marked';
import { REPO_ROOT, type TaskName } from '../../tests/support/taskRun';
import { startSandbox } from '../../tests/sandbox';
import { writeDemoManifests } from '../../tests/support/deployInputs';
import { rolloutFailureScenario } from './demoScenario';
import { runAsAgent, runDemoStory, scenarioFromArgs, uploadedSummary, type DemoRun } from './demoStory';

const WIDTH = 1200;

/** Which demo run each screenshot shows. */
const SHOTS: { file: string; task: TaskName; pick?: (r: DemoRun) => boolean }[] = [
  { file: 'images/summary-private-aks-deploy.png', task: 'PrivateAksDeployV1', pick: (r) => /outside/.test(r.title) },
  { file: 'images/summary-private-aks-deploy-preview.png', task: 'PrivateAksDeployV1', pick: (r) => /preview/.test(r.title) },
  { file: 'images/summary-acr-network-rule-sync.png', task: 'AcrNetworkRuleSyncV1' },
  { file: 'images/summary-service-connection-role-check.png', task: 'ServiceConnectionRoleCheckV1' },
  { file: 'images/summary-private-aks-deploy-rollout-failed.png', task: 'PrivateAksDeployV1', pick: (r) => /rollout fails/.test(r.title) },
];

/**
 * Not part of the demo's story (which passes): the same deploy in a world whose kubelet identity has
 * no AcrPull, so the nodes' pulls get 401 and the task explains the failed rollout on its page.
 */
async function runFailedRollout(): Promise<DemoRun> {
  const sandbox = await startSandbox(rolloutFailureScenario(), { privateNetwork: true });
  try {
    writeDemoManifests(sandbox);
    const run = await runAsAgent(sandbox, 'PrivateAksDeployV1', sandbox.network ? false : undefined, { rolloutTimeoutSeconds: '25' });
    const r = { title: 'PrivateAksDeploy whose rollout fails: the nodes cannot pull the image', task: 'PrivateAksDeployV1' as const, run };
    const summary = uploadedSummary(run);
    if (!summary || !/## Why the rollout failed/.test(summary.markdown) || !/ACR_PULL_UNAUTHORIZED/.test(summary.markdown))
      throw new Error(`The failed rollout was not explained as ACR_PULL_UNAUTHORIZED: ${run.resultMessage ?? ''}\n${run.stdout}`);
    return { ...r, summary };
  } finally {
    await sandbox.stop();
  }
}

// The look of the Extensions tab of a pipeline run: Segoe UI, light theme, bordered tables.
const STYLE = `
  body { margin: 0; background: #f8f8f8; font-family: "Segoe UI", "Open Sans", -apple-system, "Helvetica Neue", sans-serif; font-size: 14px; color: rgba(0,0,0,.9); }
  .run { background: #fff; border-bottom: 1px solid #eaeaea; padding: 14px 24px; font-size: 20px; font-weight: 600; }
  .run small { display: block; font-size: 12px; font-weight: 400; color: rgba(0,0,0,.55); margin-top: 2px; }
  .tabs { background: #fff; padding: 0 24px; border-bottom: 1px solid #eaeaea; display: flex; gap: 24px; }
  .tabs span { padding: 10px 0; color: rgba(0,0,0,.55); }
  .tabs .on { color: rgba(0,0,0,.9); border-bottom: 2px solid #0078d4; font-weight: 600; }
  .card { background: #fff; margin: 16px 24px; border-radius: 4px; box-shadow: 0 1.6px 3.6px rgba(0,0,0,.13), 0 .3px .9px rgba(0,0,0,.11); }
  .card > header { padding: 12px 20px; font-weight: 600; font-size: 15px; border-bottom: 1px solid #eaeaea; }
  .card > header::before { content: "⌄"; display: inline-block; margin-right: 10px; color: rgba(0,0,0,.55); }
  .md { padding: 4px 20px 20px; line-height: 1.5; }
  h3 { font-size: 18px; font-weight: 600; margin: 14px 0 10px; }
  h4 { font-size: 15px; font-weight: 600; margin: 22px 0 8px; }
  h5 { font-size: 14px; font-weight: 600; margin: 16px 0 6px; }
  table { border-collapse: collapse; margin: 6px 0; }
  th, td { border: 1px solid #e0e0e0; padding: 5px 10px; text-align: left; vertical-align: top; }
  th { background: #f4f4f4; font-weight: 600; }
  td:first-child { white-space: nowrap; }
  tr:nth-child(even) td { background: #fbfbfb; }
  thead:has(th:empty) { display: none; }
  code { font-family: Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; background: #f3f3f3; padding: 1px 4px; border-radius: 2px; overflow-wrap: anywhere; }
  pre { background: #f3f3f3; padding: 8px 12px; border-radius: 2px; white-space: pre-wrap; overflow-wrap: anywhere; }
  pre code { padding: 0; background: none; }
  blockquote { margin: 8px 0; padding: 4px 12px; border-left: 3px solid #c8c8c8; color: rgba(0,0,0,.75); }
  ul { padding-left: 22px; }
  p { margin: 8px 0; }
`;

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function pageHtml(r: DemoRun): string {
  const body = marked.parse(r.summary!.markdown, { async: false, gfm: true });
  return `<!doctype html><html><head><meta charset="utf-8"><style>${STYLE}</style></head><body>
<div class="run">#20250114.3 · web-release<small>Demo run in the local sandbox: ${escapeHtml(r.title)}</small></div>
<div class="tabs"><span>Summary</span><span>Environments</span><span class="on">Extensions</span></div>
<section class="card"><header>${escapeHtml(r.summary!.title)}</header><div class="md">${body}</div></section>
</body></html>`;
}

function chromium(): string {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((c): c is string => !!c);
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error('No Chromium found: apt-get install -y chromium fonts-noto-color-emoji, or set CHROMIUM.');
  return found;
}

/** Flags for a headless run that talks to nothing but the local file. */
function chromiumArgs(profile: string, height: number): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    '--force-device-scale-factor=1',
    `--user-data-dir=${profile}`,
    `--window-size=${WIDTH},${height}`,
  ];
}

/** Two passes: the first measures the page (the height lands in the DOM), the second takes the picture. */
function screenshot(browser: string, htmlFile: string, pngFile: string): { height: number } {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'summary-chromium-'));
  try {
    const measuring = htmlFile.replace(/\.html$/, '.measure.html');
    const measure =
      '<script>addEventListener("load", () => { document.body.dataset.height = Math.ceil(document.body.getBoundingClientRect().bottom + 16); });</script>';
    fs.writeFileSync(measuring, fs.readFileSync(htmlFile, 'utf8').replace('</body>', `${measure}</body>`));
    const dom = execFileSync(browser, [...chromiumArgs(profile, 200), '--dump-dom', `file://${measuring}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60_000,
    });
    const height = Number(/data-height="(\d+)"/.exec(dom)?.[1]);
    if (!height) throw new Error(`could not measure ${htmlFile}`);
    execFileSync(browser, [...chromiumArgs(profile, height), `--screenshot=${pngFile}`, `file://${htmlFile}`], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    if (!fs.existsSync(pngFile)) throw new Error(`Chromium wrote no ${pngFile}`);
    return { height };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const browser = chromium();
  const runs = await runDemoStory(
    scenarioFromArgs(process.argv),
    () => undefined,
    (r) => console.log(`${r.title}: ${r.run.result}${r.summary ? '' : ' (no summary)'}`),
  );
  const failed = await runFailedRollout();
  console.log(`${failed.title}: ${failed.run.result}`);
  runs.push(failed);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'summary-html-'));
  try {
    for (const shot of SHOTS) {
      const run = runs.find((r) => r.task === shot.task && (shot.pick?.(r) ?? true));
      if (!run?.summary) throw new Error(`The demo run of ${shot.task} attached no summary: ${run?.run.resultMessage ?? 'it did not run'}`);
      const html = path.join(work, `${path.basename(shot.file, '.png')}.html`);
      fs.writeFileSync(html, pageHtml(run));
      const out = path.join(REPO_ROOT, shot.file);
      const { height } = screenshot(browser, html, out);
      console.log(`${shot.file}: ${WIDTH}x${height}, ${(fs.statSync(out).size / 1024).toFixed(0)} KiB`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
