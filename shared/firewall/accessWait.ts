import { ExplainedError } from '../pipeline/explainedError';

/** One look from the agent at the endpoint behind the firewall. */
export type AccessAnswer = { through: true; detail: string } | { through: false; detail: string; seenIp?: string };

export interface AccessOutcome {
  seconds: number;
  attempts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Asks the endpoint from the agent until the firewall lets it through, with a deadline and a
 * progress line every few seconds. Rule changes take from seconds to minutes in Azure.
 */
export async function waitForAccess(
  endpoint: string,
  ask: (deadlineMs: number) => Promise<AccessAnswer>,
  timeoutSeconds: number,
  since: number,
): Promise<AccessOutcome> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let attempts = 0;
  let lastProgress = 0;
  for (;;) {
    attempts++;
    const answer = await ask(Math.max(1_000, Math.min(15_000, deadline - Date.now())));
    const elapsed = (Date.now() - since) / 1000;
    if (answer.through) {
      console.log(
        `  ${endpoint} ${answer.detail}: the firewall lets the agent in (${elapsed.toFixed(1)} s after the rule was written, ${attempts} request(s)).`,
      );
      return { seconds: Math.round(elapsed * 10) / 10, attempts };
    }
    if (Date.now() - lastProgress >= 3_000) {
      console.log(`  waiting for the rule to take effect: ${answer.detail} (${elapsed.toFixed(0)} s)`);
      lastProgress = Date.now();
    }
    if (Date.now() >= deadline) {
      throw new ExplainedError({
        what: `Waiting for ${endpoint} to let the agent in`,
        reason: `After ${timeoutSeconds} s it still answers: ${answer.detail}. Network rule changes usually take effect within a minute or two${answer.seenIp ? `; if ${answer.seenIp} is not the address the rule was written for, the agent's egress IP differs from the one given` : ''}.`,
        fix: "Raise accessTimeoutSeconds, or check the agent's egress IP (ipSource: auto detects the one a registry sees).",
        code: 'FIREWALL_ACCESS_TIMEOUT',
      });
    }
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
  }
}
