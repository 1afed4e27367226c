import type { AccessAnswer } from './accessWait';
import type { RuleStore } from './ruleSync';

/**
 * What AcrNetworkRuleSync opens: a registry's network rule set or a cluster's authorized IP
 * ranges. The task's flow (leases, post-job removal, waiting) is the same for both; a target
 * supplies its posture checks, the agent's IP when it can tell it, and how to ask the endpoint.
 */
export interface FirewallTarget {
  kind: 'registry' | 'aksAuthorizedIpRanges';
  /** Resource name, for messages and the summary. */
  name: string;
  /** The endpoint the agent reaches through the firewall, for messages. */
  endpoint: string;
  store: RuleStore<unknown>;
  /**
   * Whether rules make sense at all, and what to say when they don't: 'open' when every network
   * gets in already (nothing to add), an ExplainedError thrown when rules do not apply.
   */
  posture(): Promise<'filtered' | 'open'>;
  /** The agent's egress IP as the endpoint sees it, when the endpoint tells (ACR's 403 does). */
  ipFromEndpoint(): Promise<{ ip?: string; why: string; through: boolean }>;
  /** Checks before adding `count` rules (quota). */
  beforeAdd?(count: number): Promise<void>;
  /** One look from the agent at the endpoint. */
  ask(deadlineMs: number): Promise<AccessAnswer>;
}
