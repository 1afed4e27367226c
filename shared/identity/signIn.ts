import * as tl from 'azure-pipelines-task-lib/task';
import { readAzureRmConnection } from '../connection/azureRmConnection';
import { acquireToken, createConnectionCredential, type ConnectionCredential } from './connectionCredential';
import { describeSignedInIdentity, identityReportLines, type SignedInIdentity } from './signedInIdentity';

/**
 * The first step of every task: read the connection, get a Resource Manager token, and print who
 * we are, so a wrong connection or tenant shows before anything else happens.
 */
export async function signInWithTaskConnection(): Promise<{ cc: ConnectionCredential; identity: SignedInIdentity }> {
  const connection = await readAzureRmConnection();
  const cc = createConnectionCredential(connection);
  const token = await acquireToken(cc, 'resourceManager');
  const identity = describeSignedInIdentity(cc, token);
  console.log('Signed in to Azure:');
  for (const line of identityReportLines(identity)) console.log(`  ${line}`);
  tl.debug(`Resource Manager token acquired (expires ${identity.tokenExpiresOn.toISOString()})`);
  return { cc, identity };
}
