import { isClusterScoped, type ManifestObject } from './manifests';

/** One object of the manifests, as the delete report names it. */
export interface DeletedObject {
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * The objects `kubectl delete` says it deleted. kubectl prints one line per object it deleted,
 * `<kind lowercased>[.<group>] "<name>" deleted` (kubernetes/kubernetes staging/src/k8s.io/kubectl/
 * pkg/cmd/delete/delete.go `PrintObj`: `kindString := fmt.Sprintf("%s.%s", strings.ToLower(groupKind.Kind),
 * groupKind.Group)`, the group left out for the core group), and nothing for an object that was not
 * there under --ignore-not-found. Pure.
 */
export function deletedLines(output: string): { kind: string; name: string }[] {
  const out: { kind: string; name: string }[] = [];
  for (const line of output.split(/\r\n|\r|\n/)) {
    const m = /([a-z0-9]+)(?:\.[a-z0-9.-]+)? "([^"]+)" deleted\b/.exec(line);
    if (m) out.push({ kind: m[1], name: m[2] });
  }
  return out;
}

/**
 * The manifests' objects split into deleted and not found, from kubectl's output: an object is
 * deleted when a line names its kind and name (kubectl does not print the namespace, so two objects
 * of one kind and name in two namespaces take one line each, in order). Pure.
 */
export function deleteReport(
  objects: ManifestObject[],
  defaultNamespace: string | undefined,
  output: string,
): { deleted: DeletedObject[]; notFound: DeletedObject[] } {
  const lines = deletedLines(output);
  const deleted: DeletedObject[] = [];
  const notFound: DeletedObject[] = [];
  for (const o of objects) {
    const entry: DeletedObject = {
      kind: o.kind,
      namespace: isClusterScoped(o.kind) ? undefined : (o.metadata.namespace ?? defaultNamespace ?? 'default'),
      name: o.metadata.name,
    };
    const i = lines.findIndex((l) => l.kind === o.kind.toLowerCase() && l.name === o.metadata.name);
    if (i >= 0) {
      lines.splice(i, 1);
      deleted.push(entry);
    } else notFound.push(entry);
  }
  return { deleted, notFound };
}
