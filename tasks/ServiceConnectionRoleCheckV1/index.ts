import { runTask } from '../../shared/pipeline/runTask';
import { readRoleCheckInputs } from './inputs';
import { reportRoleCheck } from './report';
import { checkConnection, signIn } from './roleCheck';

// Identity, then the inputs, then the checks and their report. Unlike the other tasks this one signs
// in before reading its other inputs: who the connection is is the first thing it answers.
void runTask('ServiceConnectionRoleCheck', async () => {
  const signedIn = await signIn();
  const options = readRoleCheckInputs();
  reportRoleCheck(options, await checkConnection(options, signedIn));
});
