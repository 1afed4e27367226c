/**
 * What kubectl apply says it did to each object: one line per object from its name printer,
 * `<kind>[.<group>]/<name> <operation>` (k8s.io/cli-runtime pkg/printers/name.go: the kind lower
 * case, then the group; k8s.io/kubectl pkg/cmd/apply/apply.go printObjects / the operations
 * "created", "configured", "unchanged", "serverside-applied", and prune.go "pruned"). With --dry-run
 * kubectl adds " (server dry run)" or " (dry run)" after the operation.
 */
export type ApplyOperation = 'created' | 'configured' | 'unchanged' | 'serverside-applied' | 'pruned';

export interface ApplyChange {
  /** The kind, lower case, as kubectl prints it (deployment, configmap). */
  kind: string;
  group?: string;
  name: string;
  operation: ApplyOperation;
}

const LINE =
  /^([a-z0-9]+)(?:\.([a-z0-9.-]+))?\/(\S+) (created|configured|unchanged|serverside-applied|pruned)(?: \((?:server )?dry run\))?$/;

/** The changes in kubectl apply's output (its stdout, or the run command log), other lines ignored. */
export function parseApplyOutput(output: string): ApplyChange[] {
  const changes: ApplyChange[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const m = LINE.exec(raw.trim());
    if (m) changes.push({ kind: m[1], group: m[2], name: m[3], operation: m[4] as ApplyOperation });
  }
  return changes;
}

/**
 * The operation kubectl reported for an object of the plan (its kind and name), taking each line
 * once, in order: the same kind and name in two namespaces get the lines in the order applied.
 */
export function operationsFor<T extends { kind: string; name: string }>(
  objects: T[],
  changes: ApplyChange[],
): (ApplyOperation | undefined)[] {
  const left = [...changes];
  return objects.map((o) => {
    const i = left.findIndex((c) => c.kind === o.kind.toLowerCase() && c.name === o.name);
    return i < 0 ? undefined : left.splice(i, 1)[0].operation;
  });
}
