import * as tl from 'azure-pipelines-task-lib/task';
import { signInWithTaskConnection } from '../../shared/identity/signIn';
import { runTask } from '../../shared/pipeline/runTask';

void runTask('AcrNetworkRuleSync', async () => {
  await signInWithTaskConnection();
  tl.warning('This build of AcrNetworkRuleSync checks the service connection only: it signs in and reports the identity, and changes no firewall rule yet.');
});
