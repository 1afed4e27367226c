/**
 * What `kubectl diff` printed, object by object. Pure: kubectl's output and the objects in, a
 * verdict per object out.
 *
 * kubectl diff writes each object it was given twice, as it is (LIVE-<random>/) and as it would be
 * after the apply (MERGED-<random>/), one file per object named `[<group>.]<version>.<Kind>.<namespace>.<name>`
 * (empty namespace for cluster-scoped objects; kubectl/pkg/cmd/diff/diff.go InfoObject.Name), and
 * runs `diff -u -N LIVE MERGED` on the two folders, unless KUBECTL_EXTERNAL_DIFF names another
 * program (kubectl diff --help). An object that does not exist yet has no LIVE file, which `-N`
 * treats as empty: its hunk starts `@@ -0,0`. An object without changes prints nothing. Secret
 * values are masked before the files are written ("***", or "*** (before)" / "*** (after)" when
 * they change; diff.go Masker), so the output can be logged.
 *
 * Exit status (kubectl diff --help): 0 no differences, 1 differences, >1 kubectl or diff failed.
 */

export type DiffVerdict = 'created' | 'changed' | 'unchanged' | 'deleted';

export interface DiffObject {
  apiVersion: string;
  kind: string;
  /** Empty for a cluster-scoped object. */
  namespace: string;
  name: string;
}

export interface ObjectDiff extends DiffObject {
  verdict: DiffVerdict;
  /** The unified diff of this object (empty when unchanged). */
  diff: string;
}

/** The file name kubectl diff gives an object (diff.go InfoObject.Name). */
export function diffFileName(o: DiffObject): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return `${group ? `${group}.` : ''}${version}.${o.kind}.${o.namespace}.${o.name}`;
}

/** `diff -u -N <live> <merged>`: the line GNU diff prints before each pair of files that differ. */
const FILE_HEADER = /^diff -u -N \S*\/LIVE-[^/\s]+\/(\S+) \S*\/MERGED-[^/\s]+\/(\S+)$/;

/** Splits kubectl diff's output into one block per file, keyed by the object's file name. */
export function splitDiff(output: string): Map<string, string> {
  const blocks = new Map<string, string>();
  let current: { name: string; lines: string[] } | undefined;
  const close = () => current && blocks.set(current.name, current.lines.join('\n'));
  for (const line of output.split(/\r?\n/)) {
    const header = FILE_HEADER.exec(line);
    if (header) {
      close();
      current = { name: header[1], lines: [line] };
    } else if (current) current.lines.push(line);
  }
  close();
  return blocks;
}

/**
 * Each object's verdict: created (its diff adds to an absent live file), changed (any other diff),
 * unchanged (no diff). Objects are matched by kubectl's file name; a diff for an object not in the
 * list is one --prune would delete (its MERGED file is empty: `+0,0 @@`), reported as its own entry.
 */
export function objectDiffs(output: string, objects: DiffObject[]): ObjectDiff[] {
  const blocks = splitDiff(output);
  const result: ObjectDiff[] = objects.map((o) => {
    const diff = blocks.get(diffFileName(o)) ?? '';
    blocks.delete(diffFileName(o));
    return { ...o, verdict: !diff ? 'unchanged' : /^@@ -0,0 /m.test(diff) ? 'created' : 'changed', diff };
  });
  for (const [file, diff] of blocks) {
    // [<group>.]<version>.<Kind>.<namespace>.<name>: a name with dots is read as far as the fields allow.
    const m = /^(?:(.+)\.)?(v\d\w*)\.([A-Z]\w*)\.([^.]*)\.(.+)$/.exec(file);
    const [, group, version, kind, namespace, name] = m ?? [file, '', '?', '?', '', file];
    const deleted = /^@@ -\d+(?:,\d+)? \+0,0 @@/m.test(diff);
    result.push({
      apiVersion: group ? `${group}/${version}` : version,
      kind,
      namespace,
      name,
      verdict: deleted ? 'deleted' : 'changed',
      diff,
    });
  }
  return result;
}

/** A diff cut to `maxChars`, on a line boundary, saying how much was left out. */
export function truncateDiff(diff: string, maxChars: number): string {
  if (diff.length <= maxChars) return diff;
  const cut = diff.lastIndexOf('\n', maxChars);
  const kept = diff.slice(0, cut > 0 ? cut : maxChars);
  const left = diff.slice(kept.length).split('\n').filter(Boolean).length;
  return `${kept}\n… ${left} more line(s) not shown`;
}
