import { runAcrNetworkRuleSync } from '../../shared/firewall/ruleSyncTask';
import { runTask } from '../../shared/pipeline/runTask';

// The main step; the post-job step is post.ts (task.json postjobexecution), a separate entry so
// that a post-job step whose main step never ran cannot run the main flow.
void runTask('AcrNetworkRuleSync', runAcrNetworkRuleSync);
