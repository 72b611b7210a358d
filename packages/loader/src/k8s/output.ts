// The files `ferry-load k8s` produces and how they leave: one YAML serialiser for every
// Kubernetes document (the ConfigMap byte for byte as kubectl writes it), one multi-document
// stream for stdout, and the writes under --out: everything compared before anything is
// written, a different existing file refused unless --force, each file replaced atomically.

import { lstat, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Document, Scalar, visit } from 'yaml';
import { FerryError, printable, sha256Digest, writeWhole } from '@ferry/format-spec';

export type OutputKind =
  | 'ConfigMap'
  | 'ClusterPolicy'
  | 'ClusterImagePolicy'
  | 'ImageDigestMirrorSet'
  | 'Secret template'
  | 'containerd hosts.toml'
  | 'registries.conf';

export interface OutputFile {
  /** Relative POSIX path under --out (stable: the same inputs give the same names). */
  path: string;
  kind: OutputKind;
  /** `kubectl apply -f` takes it as it is (a Kubernetes object); otherwise it goes to the nodes or is a template. */
  apply: boolean;
  /** One line: what it is and what to do with it. */
  about: string;
  content: string;
  /** The object's name, for the Kubernetes documents and the template. */
  name?: string;
  namespace?: string;
}

/**
 * go-yaml (kubectl's serialiser) writes a multi-line string as a literal block unless a line
 * ends in a space or it holds a character a block cannot carry; then it double-quotes it. The
 * same choice here makes a PEM key file's ConfigMap identical to kubectl's. Quoted text gets
 * JSON escapes, as go-yaml writes them; go-yaml also folds a long quoted line, which is not
 * copied (the value is the same). A tab is quoted here where go-yaml keeps the block: the same
 * value, and a stream that stays printable.
 */
function blockAllowed(s: string): boolean {
  return !/[ \t]\n|[ \t]$|[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]|\ufeff/u.test(s) && !/^[ \t]/.test(s);
}

/** One Kubernetes document as YAML, keys in the order given, with optional `#` comment lines before it. */
export function yamlDocument(obj: unknown, comment?: string): string {
  const doc = new Document(obj);
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value === 'string' && node.value.includes('\n')) node.type = blockAllowed(node.value) ? Scalar.BLOCK_LITERAL : Scalar.QUOTE_DOUBLE;
    },
  });
  const body = doc.toString({ lineWidth: 0, indentSeq: false, doubleQuotedAsJSON: true });
  return comment ? `${commentLines(comment)}${body}` : body;
}

/** Text as `# ` comment lines (an empty line stays a bare `#`). */
export function commentLines(text: string): string {
  return text.split('\n').map((l) => (l ? `# ${l}` : '#')).join('\n') + '\n';
}

/**
 * Every file as one multi-document YAML stream (stdout): the Kubernetes documents as they are,
 * the node files and the secret template as comments, so piping the stream to `kubectl apply -f -`
 * never replaces a real pull secret with the template's placeholders.
 */
export function toStream(files: readonly OutputFile[], header: string): string {
  const parts = [commentLines(header)];
  for (const f of files) {
    const head = `==> ${f.path} <==  ${f.about}`;
    parts.push(f.apply ? `---\n${commentLines(head)}${f.content}` : `---\n${commentLines(`${head}\n\n${f.content.replace(/\n$/, '')}`)}`);
  }
  return parts.join('');
}

export type WriteStatus = 'written' | 'unchanged' | 'replaced';

export interface WrittenFile {
  path: string;
  kind: OutputKind;
  apply: boolean;
  status: WriteStatus;
  sha256: string;
  name?: string;
  namespace?: string;
}

/** A relative path Ferry built: plain components only, so no file can land outside --out. */
function safeRelative(p: string): void {
  if (!p.split('/').every((c) => /^[A-Za-z0-9[][A-Za-z0-9._:[\]-]*$/.test(c) && c !== '..')) {
    throw new FerryError('INTERNAL', `refusing to write an unexpected output path ${printable(p)}`);
  }
}

async function existing(path: string): Promise<'none' | 'file' | 'other'> {
  try {
    const st = await lstat(path);
    return st.isFile() ? 'file' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'none';
    throw e;
  }
}

/**
 * Write every file under `dir`. First each is compared with what is there: the same bytes are
 * left alone; different bytes are refused (nothing written) unless `force`; a directory, link
 * or device in a file's place is always refused. Then each is written to a temp file beside it
 * and renamed over, so a reader sees the old file or the new one, never half of one.
 */
export async function writeOutputs(dir: string, files: readonly OutputFile[], opts: { force: boolean }): Promise<WrittenFile[]> {
  const plan: Array<{ f: OutputFile; dest: string; status: WriteStatus }> = [];
  const conflicts: string[] = [];
  for (const f of files) {
    safeRelative(f.path);
    const dest = join(dir, ...f.path.split('/'));
    const kind = await existing(dest);
    if (kind === 'other') throw new FerryError('TARGET_ERROR', `${printable(dest)} is not a regular file (a directory, link or device is in its place); move it away first`, { file: dest });
    let status: WriteStatus = 'written';
    if (kind === 'file') {
      const now = await readFile(dest, 'utf8');
      if (now === f.content) status = 'unchanged';
      else {
        status = 'replaced';
        conflicts.push(f.path);
      }
    }
    plan.push({ f, dest, status });
  }
  if (conflicts.length && !opts.force) {
    throw new FerryError('USAGE', `${conflicts.length} file(s) under ${printable(dir)} already exist with other content (${conflicts.slice(0, 3).map(printable).join(', ')}${conflicts.length > 3 ? ', …' : ''}); nothing was written. Pass --force to replace them, or choose another --out`);
  }
  const out: WrittenFile[] = [];
  for (const { f, dest, status } of plan) {
    if (status !== 'unchanged') {
      await mkdir(dirname(dest), { recursive: true });
      await writeWhole(dest, f.content, { mode: 0o644 });
    }
    out.push({
      path: f.path,
      kind: f.kind,
      apply: f.apply,
      status,
      sha256: sha256Digest(Buffer.from(f.content)),
      ...(f.name !== undefined ? { name: f.name } : {}),
      ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
    });
  }
  return out;
}
