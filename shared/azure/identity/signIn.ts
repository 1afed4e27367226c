import * as tl from 'azure-pipelines-task-lib/task';
import { readAzureRmConnection } from '../connection/azureRmConnection';
import { neutralizeLoggingCommands } from '../../pipeline/loggingCommands';
import { acquireToken, createConnectionCredential, type ConnectionCredential } from './connectionCredential';
import { describeSignedInIdentity, identityReportLines, type SignedInIdentity } from './signedInIdentity';

/**
 * The first step of every task: read the connection, get a Resource Manager token, and print who
 * we are, so a wrong connection or tenant shows before anything else happens.
 */
export async function signInWithTaskConnection(
  options: { quiet?: boolean } = {},
): Promise<{ cc: ConnectionCredential; identity: SignedInIdentity }> {
  const connection = await readAzureRmConnection();
  const cc = createConnectionCredential(connection);
  const token = await acquireToken(cc, 'resourceManager');
  const identity = describeSignedInIdentity(cc, token);
  if (!options.quiet) printSignedIn(identity);
  tl.debug(`Resource Manager token acquired (expires ${identity.tokenExpiresOn.toISOString()})`);
  return { cc, identity };
}

/** Who we are, for the log: what signInWithTaskConnection prints unless asked to be quiet (its caller prints it when its turn comes). */
export function printSignedIn(identity: SignedInIdentity): void {
  console.log('Signed in to Azure:');
  // Names come from the connection and from Azure (a subscription's display name): outside text.
  for (const line of identityReportLines(identity)) console.log(`  ${neutralizeLoggingCommands(line)}`);
}
