import * as tl from 'azure-pipelines-task-lib/task';
import { signInWithTaskConnection } from '../../shared/identity/signIn';
import { runTask } from '../../shared/pipeline/runTask';

void runTask('PrivateAksDeploy', async () => {
  await signInWithTaskConnection();
  tl.warning('This build of PrivateAksDeploy checks the service connection only: it signs in and reports the identity, and deploys nothing yet.');
});
