import { runTask } from '../../shared/pipeline/runTask';
import { deploy } from './deploy';
import { readDeployInputs } from './inputs';

// The inputs, read and checked first: a bad one fails with its own error before anything signs in.
// Then the job (deploy.ts): plan, sign-in and cluster, line of sight, route, deployment, report.
void runTask('PrivateAksDeploy', async () => deploy(readDeployInputs()));
