import * as assert from 'assert';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';

describe('neutralizeLoggingCommands', () => {
  it('breaks ##vso[ anywhere in the text, in any case, keeping the rest readable', () => {
    assert.strictEqual(
      neutralizeLoggingCommands('denied: ##vso[task.setvariable variable=x]evil'),
      'denied: ## vso[task.setvariable variable=x]evil',
    );
    assert.strictEqual(neutralizeLoggingCommands('##VSO[task.complete result=Succeeded]'), '## VSO[task.complete result=Succeeded]');
    assert.strictEqual(
      neutralizeLoggingCommands('a\n##vso[task.setsecret]x\r##vso[task.debug]y'),
      'a\n## vso[task.setsecret]x\r## vso[task.debug]y',
    );
  });

  it('breaks the log formatting commands (##[group], ##[error], …)', () => {
    assert.strictEqual(neutralizeLoggingCommands('##[group]x ##[EndGroup] ##[error]e'), '## [group]x ## [EndGroup] ## [error]e');
  });

  it("sees through invisible characters, which the agent's culture-sensitive IndexOf skips", () => {
    for (const hidden of ['#\u200b#vso[', '##\u00advso[', '##v\u200ds\u2060o[', '#\u0000#[']) {
      const out = neutralizeLoggingCommands(`x ${hidden}task.complete]`);
      assert.ok(!/#[\p{Cf}\p{Cc}]*#[\p{Cf}\p{Cc}]*(v[\p{Cf}\p{Cc}]*s[\p{Cf}\p{Cc}]*o[\p{Cf}\p{Cc}]*)?\[/iu.test(out), JSON.stringify(out));
    }
  });

  it('leaves ordinary text, and a run of #, alone or unambiguous', () => {
    assert.strictEqual(neutralizeLoggingCommands('deployment.apps/shop configured # ok [1]'), 'deployment.apps/shop configured # ok [1]');
    assert.ok(!neutralizeLoggingCommands('###vso[task.x]').includes('##vso['));
  });

  it('applies to every explained failure, whatever quoted the outside text', () => {
    const e = new ExplainedError({
      what: 'Applying',
      reason: 'webhook said ##vso[task.complete result=Succeeded]',
      fix: 'See ##[error]',
      code: 'X',
    });
    assert.strictEqual(e.reason, 'webhook said ## vso[task.complete result=Succeeded]');
    assert.ok(!e.message.includes('##vso[') && !e.message.includes('##['), e.message);
  });
});
