import * as assert from 'assert';
import { DeadlineExceededError, withDeadline } from '../../shared/net/deadline';

describe('deadline: work that must settle within its deadline', () => {
  it("returns the work's result when it finishes in time, and its signal stays unaborted", async () => {
    let seen: AbortSignal | undefined;
    const value = await withDeadline(
      1_000,
      async (signal) => ((seen = signal), 42),
      () => new Error('late'),
    );
    assert.strictEqual(value, 42);
    assert.strictEqual(seen?.aborted, false);
  });

  it("passes the work's own failure through", async () => {
    await assert.rejects(
      withDeadline(
        1_000,
        async () => {
          throw new Error('refused');
        },
        () => new Error('late'),
      ),
      /^Error: refused$/,
    );
  });

  it("settles at the deadline with onTimeout's error even when the work ignores the signal, and aborts the signal", async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    await assert.rejects(
      withDeadline(
        50,
        (signal) => ((seen = signal), new Promise<never>(() => undefined)),
        () => new DeadlineExceededError('GET https://api.example', 50),
      ),
      (err: Error) => err instanceof DeadlineExceededError && err.message === 'GET https://api.example: no answer within 0 s',
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 45 && elapsed < 1_000, `settled after ${elapsed} ms`);
    assert.strictEqual(seen?.aborted, true);
  });

  it('DeadlineExceededError says what and the deadline in whole seconds', () => {
    const cases: [number, string][] = [
      [15_000, '15 s'],
      [2_500, '3 s'],
      [60_000, '60 s'],
    ];
    for (const [ms, said] of cases) {
      const e = new DeadlineExceededError('token request', ms);
      assert.strictEqual(e.message, `token request: no answer within ${said}`);
      assert.strictEqual(e.name, 'DeadlineExceededError');
      assert.strictEqual(e.ms, ms);
      assert.strictEqual(e.what, 'token request');
    }
  });
});
