import * as assert from 'assert';
import * as tl from 'azure-pipelines-task-lib/task';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { readSecretVariable, registerSecret } from '../../shared/pipeline/secrets';

/** What the task writes to stdout (where the agent reads ##vso commands) while `work` runs. */
function stdoutOf(work: () => void): string {
  let written = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((written += chunk.toString()), true)) as typeof process.stdout.write;
  tl.setStdStream(process.stdout);
  try {
    work();
  } finally {
    process.stdout.write = write;
  }
  return written;
}

/** The values registered with `##vso[task.setsecret]` (azure-pipelines-task-lib node/task.ts setSecret → command('task.setsecret', {}, val)). */
function registered(output: string): string[] {
  return [...output.matchAll(/^##vso\[task\.setsecret\](.*)$/gm)].map((m) => m[1]);
}

const armour = (edge: 'BEGIN' | 'END') => `-----${edge} ${'PRIVATE'} KEY-----`;

describe("secrets: registering values with the agent's masking", () => {
  const cases: { name: string; value: string | undefined | null; masked: string[] }[] = [
    { name: 'a client secret', value: 'Qx8Q~abcdefghijklmnop', masked: ['Qx8Q~abcdefghijklmnop'] },
    { name: 'surrounding whitespace trimmed', value: '  s3cr3t-value  ', masked: ['s3cr3t-value'] },
    // The agent masks line by line, and task-lib refuses a multi-line secret ("Secrets cannot contain
    // multiple lines", LIB_MultilineSecret, unless SYSTEM_UNSAFEALLOWMULTILINESECRET): a PEM goes per line.
    {
      name: 'a PEM, line by line, CRLF or LF, without its public armour lines',
      // Armour built from its parts: no private-key block, even a fake one, sits in the repository's text.
      value: `${armour('BEGIN')}\r\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n${armour('END')}\n`,
      masked: ['MIIEvQIBADANBgkqhkiG9w0B', 'AQEFAASCBKcwggSjAgEAAoIB'],
    },
    // Masking a very short value would star out ordinary words all over the log.
    { name: 'lines shorter than 8 characters are not registered', value: 'abc\n1234567\n12345678', masked: ['12345678'] },
    { name: 'an empty value', value: '', masked: [] },
    { name: 'undefined', value: undefined, masked: [] },
    { name: 'null', value: null, masked: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(registered(stdoutOf(() => registerSecret(c.value))), c.masked));
  }

  it('never hands task-lib a multi-line value (it would throw)', () => {
    assert.doesNotThrow(() => stdoutOf(() => registerSecret('line-one-secret\nline-two-secret\r\nline-three-secret')));
  });
});

describe('secrets: reading a secret pipeline variable', () => {
  const SECRET = 'proxy-p4ssw0rd-value';
  before(() => {
    // A secret variable as the agent hands it over: SECRET_<NAME>, moved into task-lib's vault on load
    // (azure-pipelines-task-lib node/internal.ts _loadData).
    process.env.SECRET_AGENT_PROXYPASSWORD = SECRET;
    stdoutOf(() => taskLibInternal._loadData());
  });
  after(() => {
    delete process.env.SECRET_AGENT_PROXYPASSWORD;
    stdoutOf(() => taskLibInternal._loadData());
    tl.setStdStream(process.stdout);
  });

  it("task-lib's own getter debug-logs the value (the control: node/internal.ts _getVariable writes name=value)", () => {
    assert.ok(stdoutOf(() => tl.getVariable('Agent.ProxyPassword')).includes(`Agent.ProxyPassword=${SECRET}`));
  });

  it('readSecretVariable returns it and registers it, and no log line carries it', () => {
    let value: string | undefined;
    const out = stdoutOf(() => (value = readSecretVariable('Agent.ProxyPassword')));
    assert.strictEqual(value, SECRET);
    assert.deepStrictEqual(registered(out), [SECRET]);
    assert.strictEqual(out.split('\n').filter((l) => l.includes(SECRET) && !l.startsWith('##vso[task.setsecret]')).length, 0, out);
  });

  it('an unset secret variable is undefined and registers nothing', () => {
    let value: string | undefined = 'x';
    const out = stdoutOf(() => (value = readSecretVariable('Agent.NeverSet')));
    assert.strictEqual(value, undefined);
    assert.deepStrictEqual(registered(out), []);
  });
});
