import { runAcrNetworkRuleSync } from '../../shared/firewall/ruleSyncTask';
import { runTask } from '../../shared/pipeline/runTask';

// One entry point for the main step and the post-job step (postjobexecution): the task variables
// the main step set tell them apart.
void runTask('AcrNetworkRuleSync', runAcrNetworkRuleSync);
