import * as path from 'path';

// The post-job step (task.json postjobexecution). The agent runs it at the end of the job with
// condition always, also when the main step was skipped or failed: it only releases the lease the
// main step handed over in its task variables. It runs index.js's bundle in its post-job mode
// rather than a second copy of it, which would double the task's size in the package.
(globalThis as { acrNetworkRuleSyncPostJob?: boolean }).acrNetworkRuleSyncPostJob = true;
require(path.join(__dirname, 'index.js'));
