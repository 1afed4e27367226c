import { runAcrNetworkRuleSync, runAcrNetworkRuleSyncPostJob } from './ruleSyncTask';
import { runTask } from '../../shared/pipeline/runTask';

// The main step, or the post-job step when post.js (task.json postjobexecution) loads this bundle:
// the file the agent runs decides, so a post-job step whose main step never ran cannot run the main flow.
if ((globalThis as { acrNetworkRuleSyncPostJob?: boolean }).acrNetworkRuleSyncPostJob === true) {
  void runTask('AcrNetworkRuleSync (post-job)', runAcrNetworkRuleSyncPostJob);
} else {
  void runTask('AcrNetworkRuleSync', runAcrNetworkRuleSync);
}
