import { ExplainedError } from '../explainedError';

/**
 * The bundles replace modules that no task code path reaches with stubs (scripts/bundle.js). Should
 * one ever be reached after all, the task fails with this instead of an obscure "is not a function".
 */
export function notShippedError(moduleName: string, what: string, usedFor: string): ExplainedError {
  return new ExplainedError({
    what,
    reason: `The task does not ship the '${moduleName}' module, which only ${usedFor}.`,
    fix: 'This is a bug in the task: report it with this log.',
    code: 'NOT_SHIPPED',
  });
}
