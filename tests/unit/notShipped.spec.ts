import * as assert from 'assert';
import { notShippedError } from '../../shared/pipeline/notShipped/notShipped';
import open from '../../shared/pipeline/notShipped/open';
import { defer } from '../../shared/pipeline/notShipped/q';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/**
 * The stubs the bundles put in place of `open` (imported by @azure/identity only for
 * InteractiveBrowserCredential) and `q` (azure-pipelines-task-lib's deprecated ToolRunner.exec): reached
 * after all, they fail with NOT_SHIPPED rather than "is not a function". Which modules are stubbed is
 * checked from the metafiles by tests/package/bundles.spec.ts.
 */
describe('notShipped: the stubs for modules the bundles leave out', () => {
  it('notShippedError names the module and what it is only for', () => {
    const e = notShippedError('zip', 'Packing', 'packs archives');
    assert.ok(e instanceof ExplainedError);
    assert.strictEqual(e.code, 'NOT_SHIPPED');
    assert.strictEqual(
      e.message,
      "Packing failed [NOT_SHIPPED]: The task does not ship the 'zip' module, which only packs archives. Fix: This is a bug in the task: report it with this log.",
    );
  });

  const stubs: { name: string; call: () => unknown; message: RegExp }[] = [
    {
      name: 'open (the default export @azure/identity calls)',
      call: () => open(),
      message: /^Opening a browser to sign in failed \[NOT_SHIPPED\]: The task does not ship the 'open' module, which only opens a browser/,
    },
    {
      name: "q's defer (what task-lib's ToolRunner.exec calls first)",
      call: () => defer(),
      message: /^Running a tool through azure-pipelines-task-lib failed \[NOT_SHIPPED\]: The task does not ship the 'q' module/,
    },
  ];
  for (const s of stubs) {
    it(`${s.name} fails with NOT_SHIPPED`, async () => {
      await assert.rejects(
        async () => s.call(),
        (err: unknown) => err instanceof ExplainedError && err.code === 'NOT_SHIPPED' && s.message.test(err.message),
      );
    });
  }
});
