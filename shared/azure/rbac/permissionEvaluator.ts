/**
 * Azure RBAC evaluation of what ARM's permissions API returns
 * (`GET {scope}/providers/Microsoft.Authorization/permissions`): one entry per permission block
 * of every role assigned to the caller (directly or through groups) at the scope or above.
 *
 * Rules, as Azure applies them:
 *   - operation names compare case-insensitively;
 *   - `*` matches any run of characters, `/` included (`*`, `* /read`, `Microsoft.X/* /write`);
 *   - actions and data actions are separate lists: `*` in actions grants no data action;
 *   - each entry is evaluated on its own: it allows an operation when one of its actions matches
 *     and none of ITS OWN notActions does. A notAction is not a deny: another entry (another role)
 *     may still grant the operation.
 * Pure: no I/O.
 */

export type OperationKind = 'action' | 'dataAction';

/** A permission entry as the permissions API (and a role definition) has it; lists may be absent. */
export interface PermissionEntry {
  actions?: readonly string[];
  notActions?: readonly string[];
  dataActions?: readonly string[];
  notDataActions?: readonly string[];
}

/**
 * Whether a wildcard pattern matches an operation name: case-insensitive, `*` matching any run of
 * characters (including none and including `/`). Greedy matching with backtracking to the last star.
 */
export function wildcardMatches(pattern: string, operation: string): boolean {
  const p = pattern.trim().toLowerCase();
  const s = operation.trim().toLowerCase();
  let pi = 0;
  let si = 0;
  let star = -1;
  let resume = 0;
  while (si < s.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = si;
    } else if (pi < p.length && p[pi] === s[si]) {
      pi++;
      si++;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Whether one entry allows the operation, with its own exclusions applied. */
export function entryAllows(entry: PermissionEntry, operation: string, kind: OperationKind): boolean {
  const grants = (kind === 'action' ? entry.actions : entry.dataActions) ?? [];
  const excludes = (kind === 'action' ? entry.notActions : entry.notDataActions) ?? [];
  if (!grants.some((g) => wildcardMatches(g, operation))) return false;
  return !excludes.some((x) => wildcardMatches(x, operation));
}

export interface PermissionVerdict {
  allowed: boolean;
  /** The index of the first entry that allows it. */
  grantedBy?: number;
  /** The exclusions that removed it from entries that would otherwise grant it (for the report). */
  excludedBy: string[];
}

/** Whether any entry allows the operation, and if not, which notActions took it away. */
export function evaluatePermission(entries: readonly PermissionEntry[], operation: string, kind: OperationKind): PermissionVerdict {
  const excludedBy: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (entryAllows(entry, operation, kind)) return { allowed: true, grantedBy: i, excludedBy: [] };
    const grants = (kind === 'action' ? entry.actions : entry.dataActions) ?? [];
    const excludes = (kind === 'action' ? entry.notActions : entry.notDataActions) ?? [];
    if (grants.some((g) => wildcardMatches(g, operation))) {
      for (const x of excludes) if (wildcardMatches(x, operation) && !excludedBy.includes(x)) excludedBy.push(x);
    }
  }
  return { allowed: false, excludedBy };
}

export function isAllowed(entries: readonly PermissionEntry[], operation: string, kind: OperationKind): boolean {
  return evaluatePermission(entries, operation, kind).allowed;
}
