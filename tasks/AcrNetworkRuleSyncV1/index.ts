import { signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import { runTask } from '../../shared/pipeline/runTask';
import { readRuleSyncInputs } from './inputs';
import { runPostJob } from './postJob';
import { syncRule } from './syncRule';

// The main step, or the post-job step when post.js (task.json postjobexecution) loads this bundle:
// the file the agent runs decides, so a post-job step whose main step never ran cannot run the main flow.
if ((globalThis as { acrNetworkRuleSyncPostJob?: boolean }).acrNetworkRuleSyncPostJob === true) {
  void runTask('AcrNetworkRuleSync (post-job)', runPostJob);
} else {
  // Who we are first, so a wrong connection or tenant shows before anything else; then the inputs.
  void runTask('AcrNetworkRuleSync', async () => {
    const signedIn = await signInWithTaskConnection();
    await syncRule(readRuleSyncInputs(), signedIn);
  });
}
