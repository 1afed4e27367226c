import * as tl from 'azure-pipelines-task-lib/task';
import type { RemovalTrust } from '../../shared/firewall/ruleLeases';
import { jobKeyOf } from '../../shared/firewall/ruleSync';
import type { TargetRef } from './ruleTarget';

/** The task variable the main step hands to its post-job step (scoped to this task instance). */
export const LEASE_VARIABLE = 'AcrNetworkRuleSync.Lease';

/** What the post-job step needs to find the lease again, without reading the inputs a second time. */
export interface LeaseHandOver extends TargetRef {
  ips: string[];
  jobKey: string;
  /** What the job itself saw, so that a tag writer cannot steer its removal (RemovalTrust). */
  trust: RemovalTrust;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** `addForJob` leases for this job (its post-job step releases it). */
export function jobKey(): string {
  return jobKeyOf([
    tl.getVariable('System.PlanId'),
    tl.getVariable('System.JobId'),
    tl.getVariable('System.TaskInstanceId'),
    tl.getVariable('System.JobAttempt'),
  ]);
}

/** `add` and `remove` pair up across the jobs of one run: their lease belongs to the run. */
export function runKey(): string {
  return jobKeyOf(['run', tl.getVariable('System.PlanId')]);
}

export function handOverLease(lease: LeaseHandOver): void {
  tl.setTaskVariable(LEASE_VARIABLE, JSON.stringify(lease));
}

/** The lease the main step handed over, if it took one. */
export function handedOverLease(): LeaseHandOver | undefined {
  const raw = tl.getTaskVariable(LEASE_VARIABLE);
  return raw ? (JSON.parse(raw) as LeaseHandOver) : undefined;
}
