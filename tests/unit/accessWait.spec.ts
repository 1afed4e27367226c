import * as assert from 'assert';
import { waitForAccess, type AccessAnswer } from '../../shared/firewall/accessWait';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/** A scripted endpoint: each look gets the next answer, and the deadline it was given is recorded. */
function endpoint(...answers: AccessAnswer[]) {
  const deadlines: number[] = [];
  return {
    deadlines,
    ask: async (deadlineMs: number): Promise<AccessAnswer> => {
      deadlines.push(deadlineMs);
      return answers.length > 1 ? answers.shift()! : answers[0];
    },
  };
}

async function logged<T>(work: () => Promise<T>): Promise<{ result?: T; error?: unknown; lines: string[] }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    return { result: await work(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    console.log = log;
  }
}

const LOGIN = 'contosoacr.azurecr.io';
const DENIED: AccessAnswer = { through: false, detail: "403 client with IP '203.0.113.10' is not allowed access", seenIp: '203.0.113.10' };
const ALLOWED: AccessAnswer = { through: true, detail: '401 (token challenge)' };

/** The wait for a firewall rule to take effect (ACR and AKS apply rule changes after a delay). Pure but for its clock. */
describe('accessWait: waiting until the firewall lets the agent in', () => {
  it('through at the first look: one request, the time since the rule was written', async () => {
    const e = endpoint(ALLOWED);
    const { result, lines } = await logged(() => waitForAccess(LOGIN, e.ask, 120, Date.now() - 2_500));
    assert.strictEqual(result!.attempts, 1);
    assert.ok(result!.seconds >= 2.5 && result!.seconds < 3.5, String(result!.seconds));
    assert.match(
      lines.join('\n'),
      /^ {2}contosoacr\.azurecr\.io 401 \(token challenge\): the firewall lets the agent in \(2\.\d s after the rule was written, 1 request\(s\)\)\.$/m,
    );
    assert.deepStrictEqual(e.deadlines, [15_000], 'each look gets at most 15 s');
  });

  it('refused, then through: asks again and says what it is waiting for', async () => {
    const e = endpoint(DENIED, ALLOWED);
    const { result, lines } = await logged(() => waitForAccess(LOGIN, e.ask, 0.3, Date.now()));
    assert.strictEqual(result!.attempts, 2);
    assert.match(lines[0], /^ {2}waiting for the rule to take effect: 403 client with IP '203\.0\.113\.10' is not allowed access \(0 s\)$/);
    assert.deepStrictEqual(e.deadlines, [1_000, 1_000], 'never less than 1 s per look');
  });

  it('still refused at the deadline: FIREWALL_ACCESS_TIMEOUT naming the IP the endpoint saw', async () => {
    const started = Date.now();
    const { error } = await logged(() => waitForAccess(LOGIN, endpoint(DENIED).ask, 0, started));
    assert.ok(Date.now() - started < 500, `gave up after ${Date.now() - started} ms, not at the deadline`);
    assert.ok(error instanceof ExplainedError, String(error));
    assert.strictEqual(error.code, 'FIREWALL_ACCESS_TIMEOUT');
    assert.strictEqual(error.what, 'Waiting for contosoacr.azurecr.io to let the agent in');
    assert.match(
      error.reason,
      /^After 0 s it still answers: 403 client with IP '203\.0\.113\.10' is not allowed access\. .*if 203\.0\.113\.10 is not the address the rule was written for, the agent's egress IP differs/,
    );
    assert.match(error.fix, /accessTimeoutSeconds/);
  });

  it('at the deadline without an IP from the endpoint: no guess about the address', async () => {
    const { error } = await logged(() =>
      waitForAccess('aks1-abc.hcp.westeurope.azmk8s.io', endpoint({ through: false, detail: 'connect ETIMEDOUT' }).ask, 0, Date.now()),
    );
    assert.ok(error instanceof ExplainedError);
    assert.strictEqual(error.code, 'FIREWALL_ACCESS_TIMEOUT');
    assert.doesNotMatch(error.reason, /egress IP differs/);
  });

  it("a look that fails outright ends the wait with the look's error", async () => {
    const { error } = await logged(() =>
      waitForAccess(
        LOGIN,
        async () => {
          throw new Error('boom');
        },
        60,
        Date.now(),
      ),
    );
    assert.match(String(error), /boom/);
  });
});
