import { runAcrNetworkRuleSyncPostJob } from '../../shared/firewall/ruleSyncTask';
import { runTask } from '../../shared/pipeline/runTask';

// The post-job step (task.json postjobexecution). The agent runs it at the end of the job with
// condition always, also when the main step was skipped or failed: it only releases the lease the
// main step handed over in its task variables.
void runTask('AcrNetworkRuleSync (post-job)', runAcrNetworkRuleSyncPostJob);
