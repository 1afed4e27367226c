import * as tl from 'azure-pipelines-task-lib/task';
import { signInWithTaskConnection } from '../../shared/identity/signIn';
import { runTask } from '../../shared/pipeline/runTask';

void runTask('ServiceConnectionRoleCheck', async () => {
  const { identity } = await signInWithTaskConnection();
  if (identity.objectId) tl.setVariable('principalObjectId', identity.objectId, false, true);
  tl.warning('This build of ServiceConnectionRoleCheck reports the identity only; permission and hardening checks are not part of it yet.');
});
