// Stands in for the 'open' package in the task bundles (scripts/bundle.js). @azure/identity imports it
// only to open a browser for InteractiveBrowserCredential (msal/nodeFlows/msalClient.js,
// createBaseInteractiveRequest); the tasks never sign in interactively.
import { notShippedError } from './notShipped';

export default async function open(): Promise<never> {
  throw notShippedError('open', 'Opening a browser to sign in', 'opens a browser for interactive sign-in');
}
