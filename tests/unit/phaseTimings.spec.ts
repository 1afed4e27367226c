import * as assert from 'assert';
import { PhaseTimings, parseTimingsLine } from '../../shared/pipeline/phaseTimings';

describe('phaseTimings: one Timings line per run, read back by the bench', () => {
  it('starts with the process start, times each phase whether it succeeds or fails, ends with the total', async () => {
    const t = new PhaseTimings();
    t.add('inputs', 12.4);
    assert.strictEqual(await t.time('sign-in', async () => 'ok'), 'ok');
    await assert.rejects(
      t.time('cluster', () => Promise.reject(new Error('refused'))),
      /refused/,
    );
    const phases = parseTimingsLine(t.line())!;
    assert.deepStrictEqual([...phases.keys()], ['start', 'inputs', 'sign-in', 'cluster', 'total']);
    assert.strictEqual(phases.get('inputs'), 12);
    assert.ok(phases.get('start')! > 0 && phases.get('total')! >= phases.get('start')!, t.line());
  });

  it('reads back names with spaces, and nothing from a line that is not a Timings line', () => {
    assert.deepStrictEqual(
      [...parseTimingsLine('  Timings: token broker 3 ms, manifest file 40 ms, total 900 ms')!],
      [
        ['token broker', 3],
        ['manifest file', 40],
        ['total', 900],
      ],
    );
    assert.strictEqual(parseTimingsLine('Applied 3 object(s)'), undefined);
  });
});
