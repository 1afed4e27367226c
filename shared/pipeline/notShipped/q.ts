// Stands in for the 'q' package in the task bundles (scripts/bundle.js). azure-pipelines-task-lib needs
// it only for the deprecated ToolRunner.exec and execWithPiping (toolrunner.js, reached through
// tl.exec and tl.tool(...).exec); the tasks spawn kubectl themselves.
import { notShippedError } from './notShipped';

export function defer(): never {
  throw notShippedError(
    'q',
    'Running a tool through azure-pipelines-task-lib',
    "makes the promises of task-lib's deprecated ToolRunner.exec",
  );
}
