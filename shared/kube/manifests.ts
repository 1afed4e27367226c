import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { Composer, LineCounter, Parser, type Document } from 'yaml';
import { invalidInput } from '../pipeline/explainedError';

/** A Kubernetes object from the pipeline's manifests, with where it came from. */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface LoadedManifest {
  file: string;
  object: ManifestObject;
}

/** Limits that keep a hostile or mistaken input from exhausting the agent. */
export const MANIFEST_LIMITS = { maxFileBytes: 8 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024, maxDocuments: 5_000, maxAliasCount: 100 };

/**
 * The text each object was read from (its own document), until the task changes the object: what
 * toYamlStream hands kubectl, so that kubectl reads what the author wrote, not a re-serialisation.
 */
const sourceTexts = new WeakMap<ManifestObject, string>();

/** Called by whatever changes a loaded object (image substitution): kubectl must then get the object itself. */
export function forgetSourceText(o: ManifestObject): void {
  sourceTexts.delete(o);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A manifest the task refuses: INVALID_MANIFEST unless the refusal says otherwise. */
const refuse = (input: string, reason: string, fix: string, code = 'INVALID_MANIFEST') => invalidInput(input, reason, fix, code);

/** Checks a namespace name: a DNS label (lower case, digits, hyphens, at most 63). */
export function validateNamespace(input: string, value: string): string {
  if (!DNS_LABEL.test(value)) {
    throw refuse(
      input,
      `'${value}' is not a valid namespace: it must be a DNS label (lower-case letters, digits and hyphens, at most 63, starting and ending with a letter or digit).`,
      'Use a name like "web" or "team-a-prod".',
      'INVALID_INPUT',
    );
  }
  return value;
}

/**
 * The YAML documents of a text, one at a time: yaml's lexer, parser and composer are generators,
 * so a caller that stops early leaves the rest of the text unread (parseAllDocuments would parse
 * all of it first, every empty document between two `---` included). Errors carry their line and
 * column, as parseAllDocuments' prettyErrors gives them.
 */
function* yamlDocuments(text: string): Generator<Document.Parsed> {
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  for (const doc of new Composer().compose(parser.parse(text))) {
    for (const error of doc.errors) {
      if (error.pos[0] < 0) continue;
      const { line, col } = lines.linePos(error.pos[0]);
      error.message += ` at line ${line}, column ${col}`;
    }
    yield doc;
  }
}

/**
 * Parses the manifest files (multi-document YAML or JSON) into objects, refusing what kubectl
 * would choke on later, each with the file and document it came from: not YAML, a YAML bomb
 * (aliases), files too big, documents without kind, apiVersion or a valid name.
 */
export function loadManifests(input: string, files: string[]): LoadedManifest[] {
  const steps = manifestSteps(input, files);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * loadManifests, giving the event loop a turn every few milliseconds of parsing, so that sign-in and
 * Resource Manager reads started beside it go on (1000 manifests take a few hundred ms to parse).
 */
export async function loadManifestsYielding(input: string, files: string[], sliceMs = 10): Promise<LoadedManifest[]> {
  const steps = manifestSteps(input, files);
  let sliceStarted = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStarted >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStarted = performance.now();
    }
  }
}

/** loadManifests' work, one document per step. */
function* manifestSteps(input: string, files: string[]): Generator<void, LoadedManifest[]> {
  if (files.length === 0) {
    throw refuse(
      input,
      'The patterns match no file.',
      'Check the paths: they are relative to the sources directory (or absolute), one per line; globs like manifests/**/*.yaml work.',
      'NO_MANIFESTS',
    );
  }
  const loaded: LoadedManifest[] = [];
  let total = 0;
  let documents = 0;
  for (const file of files) {
    const size = fs.statSync(file).size;
    total += size;
    if (size > MANIFEST_LIMITS.maxFileBytes || total > MANIFEST_LIMITS.maxTotalBytes) {
      throw refuse(
        input,
        `${file} is too large (${size} bytes; limits ${MANIFEST_LIMITS.maxFileBytes} per file and ${MANIFEST_LIMITS.maxTotalBytes} in all).`,
        'Split the manifests or remove generated data from them.',
        'MANIFEST_TOO_LARGE',
      );
    }
    const text = fs.readFileSync(file, 'utf8');
    // A %TAG directive would not travel with a document's own text: such files go re-serialised.
    const keepsSource = !/^%/m.test(text);
    let index = 0;
    for (const doc of yamlDocuments(text)) {
      // Every document counts, an empty one too: the limit bounds the parsing, not only the objects.
      if (++documents > MANIFEST_LIMITS.maxDocuments) {
        throw refuse(
          input,
          `More than ${MANIFEST_LIMITS.maxDocuments} YAML documents.`,
          'Deploy them in several steps, and remove empty documents (--- lines with nothing between them).',
          'MANIFEST_TOO_LARGE',
        );
      }
      const where = `${path.basename(file)} (document ${++index})`;
      if (doc.errors.length > 0) {
        throw refuse(
          input,
          `${where} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`,
          'Fix the YAML (a linter such as yamllint shows the line).',
        );
      }
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: MANIFEST_LIMITS.maxAliasCount });
      } catch (err) {
        throw refuse(
          input,
          `${where} expands too many aliases (${(err as Error).message.split('\n')[0]}): it looks like a YAML bomb.`,
          'Remove the anchors and aliases.',
        );
      }
      if (value === null || value === undefined) continue; // an empty document between ---
      for (const object of value && (value as { kind?: string }).kind === 'List'
        ? ((value as { items?: unknown[] }).items ?? [])
        : [value]) {
        const checked = checkObject(input, where, object);
        if (keepsSource && checked === value) sourceTexts.set(checked, documentText(text, doc.range));
        loaded.push({ file, object: checked });
        if (loaded.length > MANIFEST_LIMITS.maxDocuments) {
          throw refuse(input, `More than ${MANIFEST_LIMITS.maxDocuments} objects.`, 'Deploy them in several steps.', 'MANIFEST_TOO_LARGE');
        }
      }
      yield;
    }
  }
  if (loaded.length === 0)
    throw refuse(
      input,
      `The ${files.length} matching file(s) hold no Kubernetes object.`,
      'Check that the files are manifests.',
      'NO_MANIFESTS',
    );
  return loaded;
}

function checkObject(input: string, where: string, value: unknown): ManifestObject {
  const o = value as Partial<ManifestObject> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw refuse(input, `${where} is not a Kubernetes object (a mapping with apiVersion, kind and metadata).`, 'Check the file.');
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string')
    throw refuse(input, `${where} has no apiVersion or kind.`, 'Every object needs apiVersion and kind.');
  const name = o.metadata?.name;
  if (typeof name !== 'string' || !DNS_SUBDOMAIN.test(name)) {
    throw refuse(
      input,
      `${where}: ${o.kind} name '${name ?? ''}' is not a valid Kubernetes name (lower-case DNS subdomain).`,
      'Fix metadata.name (generateName is not supported by apply).',
    );
  }
  const ns = o.metadata?.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || !DNS_LABEL.test(ns))) {
    throw refuse(input, `${where}: namespace '${String(ns)}' of ${o.kind}/${name} is not a DNS label.`, 'Fix metadata.namespace.');
  }
  return o as ManifestObject;
}

/** A `kind/namespace/name` reference, as outputs and summaries show objects. */
export function objectRef(o: ManifestObject, defaultNamespace?: string): { kind: string; namespace?: string; name: string } {
  return {
    kind: o.kind,
    namespace: o.metadata.namespace ?? (isClusterScoped(o.kind) ? undefined : defaultNamespace),
    name: o.metadata.name,
  };
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'Node',
  'RuntimeClass',
]);
export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

/**
 * A document's text without its `---` marker: kubectl's YAML reader allows only a comment after one on
 * its line (k8s.io/apimachinery pkg/util/yaml/decoder.go, YAMLReader.Read: "invalid Yaml document separator").
 */
function documentText(text: string, range: [number, number, number]): string {
  const own = text.slice(range[0], range[2]).replace(/^---[ \t]*/, '');
  return own.endsWith('\n') ? own : `${own}\n`;
}

/**
 * One multi-document stream for kubectl: each object as its author wrote it when the task did not
 * change it, else as JSON. Not re-serialised YAML: kubectl reads YAML 1.1 (sigs.k8s.io/yaml on its
 * goyaml.v2, whose resolve.go makes a plain yes/on/y/off a bool and 2024-01-01 a timestamp), and
 * the yaml library writes such strings plain, so a quoted "yes" became a bool the API server
 * refused. In JSON every string is quoted. The leading --- keeps kubectl's decoder in YAML mode
 * (the same decoder.go: GuessJSONStream takes a stream whose first non-space byte is { for JSON).
 */
export function toYamlStream(objects: ManifestObject[]): string {
  return objects.map((o) => `---\n${sourceTexts.get(o) ?? `${JSON.stringify(o)}\n`}`).join('');
}
