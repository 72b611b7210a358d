// The rules of a bundle manifest that its JSON Schema cannot say: every string free of control
// characters, volume numbering, the plan (validatePlan), references between images, referrers,
// charts, files, keys and blobs, the names things are loaded under, and carried paths. A manifest that
// passes can be loaded to the end: nothing in it refers to what is not there, nothing would be
// written under two names, and nothing can be written outside the target.

import { bundlePathProblem, findPathConflict } from './bundle-paths.js';
import { digestHex } from './digest.js';
import { FerryError } from './errors.js';
import { chartRefName, imageRefName } from './layout-index.js';
import { chartsOf, contentBlobs, requiredOf, REQUIRED_KINDS, type BlobKind, type BundleBlob, type BundleManifest } from './manifest-types.js';
import { HelmMediaTypes } from './oci-types.js';
import { loaderRulesProblem } from './loader-files.js';
import { validatePlan, volumeFileName } from './plan.js';
import { hasControlCharacters, printable } from './text.js';

/** An untrusted string in a message: quoted, escaped, cut short. */
const show = (s: string): string => `"${printable(s.slice(0, 300))}"`;

/** The first string (value or key) anywhere in `doc` holding a control character or U+2028/9,
 *  as a JSON pointer. Iterative: a hostile document may nest deeply. */
export function findControlCharacter(doc: unknown): { pointer: string; value: string } | undefined {
  const stack: Array<{ v: unknown; pointer: string }> = [{ v: doc, pointer: '' }];
  while (stack.length) {
    const { v, pointer } = stack.pop()!;
    if (typeof v === 'string') {
      if (hasControlCharacters(v)) return { pointer: pointer || '(root)', value: v };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], pointer: `${pointer}/${i}` });
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const at = `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (hasControlCharacters(k)) return { pointer: at, value: k };
        stack.push({ v: (v as Record<string, unknown>)[k], pointer: at });
      }
    }
  }
  return undefined;
}

const COSIGN_TAG_RE = /^sha256-([a-f0-9]{64})\.(sig|att|sbom)$/;
const ROOT_KINDS: readonly BlobKind[] = ['index', 'manifest'];
const CARGO_KINDS: readonly BlobKind[] = ['file', 'key'];

/** Cross-field rules; `m` has passed the schema. Throws SCHEMA_INVALID naming what and where. */
export function checkManifestRules(m: BundleManifest, where: string): void {
  const fail = (msg: string): never => {
    throw new FerryError('SCHEMA_INVALID', `${where}: ${msg}`, { file: where });
  };

  m.volumes.forEach((v, i) => {
    if (v.index !== i + 1) fail(`volumes[${i}] has index ${v.index}, expected ${i + 1}`);
    const expected = volumeFileName(m.name, v.index);
    if (v.file !== expected) fail(`volumes[${i}].file is ${v.file}, expected ${expected}`);
  });
  const loaders = loaderRulesProblem(m);
  if (loaders) fail(loaders);
  // Blob and segment rules are the writer's and reader's own (one definition, in plan.ts).
  validatePlan(m.blobs, m.volumes.length, where);
  const blobs = new Map<string, BundleBlob>(m.blobs.map((b) => [b.digest, b]));
  const need = (d: string, what: string): BundleBlob => blobs.get(d) ?? fail(`${what} refers to ${d}, which is not in blobs`);
  checkDeltaRules(m, blobs, fail);
  // Image and referrer content may be carried or required (a delta); everything else is carried.
  const content = contentBlobs(m);
  const needContent = (d: string, what: string): BundleBlob => content.get(d) ?? fail(`${what} refers to ${d}, which is not in blobs (nor in required)`);

  // Images and their referrers: everything they need is image content, roots are manifests.
  for (const [i, img] of m.images.entries()) {
    const what = `images[${i}]`;
    for (const d of img.blobs) {
      const b = needContent(d, what);
      if (CARGO_KINDS.includes(b.kind)) fail(`${what} (${show(imageRefName(img))}) needs ${d}, which is a blob of kind ${b.kind}: image content is never a carried file or key`);
    }
    if (img.blobs[img.blobs.length - 1] !== img.digest) fail(`${what}.blobs must end with the image digest ${img.digest}`);
    const root = content.get(img.digest)!;
    if (!ROOT_KINDS.includes(root.kind)) fail(`${what} (${show(imageRefName(img))}) has its root ${img.digest} as a blob of kind ${root.kind}; an image root is an index or a manifest`);
    if (root.size !== img.size || root.mediaType !== img.mediaType) fail(`${what} size or mediaType differs from its blob entry`);
    // What a referrer may refer to: the image or one of the manifests it carries.
    const subjects = new Set<string>(img.blobs.filter((d) => ROOT_KINDS.includes(content.get(d)!.kind)));
    for (const [j, r] of (img.referrers ?? []).entries()) {
      const rw = `${what}.referrers[${j}]`;
      for (const d of r.blobs) {
        // Referrer content is always carried: the loader's image policy reads it from the volumes.
        const b = need(d, rw);
        if (CARGO_KINDS.includes(b.kind)) fail(`${rw} needs ${d}, which is a blob of kind ${b.kind}: referrer content is never a carried file or key`);
      }
      if (r.blobs[r.blobs.length - 1] !== r.digest) fail(`${rw}.blobs must end with its digest`);
      const rb = content.get(r.digest)!;
      if (!ROOT_KINDS.includes(rb.kind)) fail(`${rw} is ${r.digest}, a blob of kind ${rb.kind}; a referrer is an index or a manifest`);
      if (rb.size !== r.size || rb.mediaType !== r.mediaType) fail(`${rw} size or mediaType differs from its blob entry`);
      if (!subjects.has(r.subject)) fail(`${rw} refers to subject ${r.subject}, which is neither ${what}'s digest nor one of its manifests`);
      if (r.scheme === 'cosign-tag') {
        const t = COSIGN_TAG_RE.exec(r.tag ?? '');
        if (!t || t[1] !== digestHex(r.subject)) fail(`${rw} has cosign tag ${show(r.tag ?? '')}; for subject ${r.subject} it must be sha256-${digestHex(r.subject)}.sig, .att or .sbom`);
      }
    }
  }

  // Names: each is loaded under one name, and nothing else is written there. The same
  // referrer carried by two images of one repository is one tag with one content: fine.
  const names = new Map<string, { what: string; digest: string; image: boolean }>();
  for (const [i, img] of m.images.entries()) {
    const name = imageRefName(img);
    const prev = names.get(name);
    if (prev) fail(`${prev.what} and images[${i}] would both be loaded as ${show(name)}`);
    names.set(name, { what: `images[${i}]`, digest: img.digest, image: true });
  }
  for (const [i, img] of m.images.entries()) {
    for (const [j, r] of (img.referrers ?? []).entries()) {
      if (r.tag === undefined) continue;
      const name = `${img.repository}:${r.tag}`;
      const what = `images[${i}].referrers[${j}]`;
      const prev = names.get(name);
      if (prev?.image) fail(`${what} would be tagged ${show(name)}, which is the name of ${prev.what}`);
      if (prev && prev.digest !== r.digest) fail(`${prev.what} and ${what} would both be tagged ${show(name)}, with different content (${prev.digest} and ${r.digest})`);
      if (!prev) names.set(name, { what, digest: r.digest, image: false });
    }
  }

  // Charts: a Helm OCI artifact whose blobs are all carried, the chart archive (and provenance)
  // among them with Helm's media types, one chart per name and version, and a layout name
  // (charts/NAME:TAG) no image has.
  const charts = chartsOf(m);
  const versions = new Map<string, string>();
  for (const [i, c] of charts.entries()) {
    const what = `charts[${i}] (${show(`${c.name}@${c.version}`)})`;
    for (const d of c.blobs) {
      const b = need(d, what);
      if (CARGO_KINDS.includes(b.kind)) fail(`${what} needs ${d}, which is a blob of kind ${b.kind}: chart content is never a carried file or key`);
    }
    if (new Set(c.blobs).size !== c.blobs.length) fail(`${what}.blobs lists a digest twice`);
    if (c.blobs[c.blobs.length - 1] !== c.manifest.digest) fail(`${what}.blobs must end with its manifest ${c.manifest.digest}`);
    const root = blobs.get(c.manifest.digest)!;
    if (root.kind !== 'manifest' || root.size !== c.manifest.size || root.mediaType !== c.manifest.mediaType) fail(`${what}.manifest differs from its blob entry (kind, size or mediaType)`);
    const archive = c.blobs.includes(c.digest) ? blobs.get(c.digest)! : fail(`${what}: its archive ${c.digest} is not one of its blobs`);
    if (archive.size !== c.size) fail(`${what}.size differs from its archive's blob entry (${c.size} and ${archive.size} bytes)`);
    if (archive.mediaType !== HelmMediaTypes.chart && archive.mediaType !== HelmMediaTypes.legacyChart) fail(`${what}: its archive has media type ${show(archive.mediaType)}, not ${HelmMediaTypes.chart}`);
    if (c.provenance) {
      const p = c.blobs.includes(c.provenance.digest) ? blobs.get(c.provenance.digest)! : fail(`${what}: its provenance ${c.provenance.digest} is not one of its blobs`);
      if (p.size !== c.provenance.size || p.mediaType !== HelmMediaTypes.provenance) fail(`${what}.provenance differs from its blob entry (size or mediaType)`);
    }
    const key = `${c.name}@${c.version}`;
    const prev = versions.get(key);
    if (prev) fail(`${prev} and charts[${i}] are both ${show(key)}`);
    versions.set(key, `charts[${i}]`);
    const ref = chartRefName(c);
    const clash = names.get(ref);
    if (clash) fail(`${what} is named ${show(ref)} in the layout, which is the name of ${clash.what}`);
  }
  for (const [i, c] of charts.entries()) {
    for (const parent of c.requiredBy ?? []) {
      if (!versions.has(parent)) fail(`charts[${i}].requiredBy names ${show(parent)}, which is not a chart of this bundle`);
    }
  }

  // Files and keys: present, the size their blob has, a path that stays inside the target,
  // and paths that fit in one tree together. A file may be any blob (one equal to a layer too).
  const labels = new Map<string, string>();
  const cargo = [...m.files.map((f, i) => ({ ...f, what: `files[${i}]` })), ...m.keys.map((k, i) => ({ ...k, what: `keys[${i}]` }))];
  for (const c of cargo) {
    const b = need(c.digest, c.what);
    if (b.size !== c.size) fail(`${c.what} size differs from its blob entry (${c.size} and ${b.size} bytes)`);
    const problem = bundlePathProblem(c.path);
    if (problem) fail(`${c.what}.path ${show(c.path)} ${problem}`);
    const prev = labels.get(c.path);
    if (prev) fail(`${c.what}.path ${c.path} is used twice (also ${prev}.path)`);
    labels.set(c.path, c.what);
  }
  // One content, one second hash: readers check a blob's sha512 once, whichever file it lands as.
  const integrity = new Map<string, { what: string; value: string }>();
  m.files.forEach((f, i) => {
    const prev = integrity.get(f.digest);
    if (prev && prev.value !== f.integrity) fail(`files[${i}] and ${prev.what} carry the same content ${f.digest} with different sha512 integrity`);
    if (!prev) integrity.set(f.digest, { what: `files[${i}]`, value: f.integrity });
  });
  const conflict = findPathConflict(cargo.map((c) => c.path));
  if (conflict) fail(`${labels.get(conflict.first)}.path ${show(conflict.first)} and ${labels.get(conflict.second)}.path ${show(conflict.second)} cannot both be carried: ${conflict.why}`);
}

/** Version 4: required[] names blobs that are not carried, of kinds a delta may leave out,
 *  each once, each vouched for by a baseline of this manifest, each needed by an image or a
 *  referrer; and delta says exactly what blobs[] and required[] add up to. */
function checkDeltaRules(m: BundleManifest, blobs: ReadonlyMap<string, BundleBlob>, fail: (msg: string) => never): void {
  const required = requiredOf(m);
  const baselines = new Set<string>();
  for (const [i, b] of (m.baselines ?? []).entries()) {
    if (baselines.has(b.name)) fail(`baselines[${i}] is named ${show(b.name)}, like an earlier baseline`);
    baselines.add(b.name);
  }
  const seen = new Set<string>();
  for (const [i, r] of required.entries()) {
    const what = `required[${i}]`;
    if (blobs.has(r.digest)) fail(`${what} is ${r.digest}, which is also carried in blobs: a blob is carried or required, never both`);
    if (seen.has(r.digest)) fail(`${what} lists ${r.digest} a second time`);
    seen.add(r.digest);
    if (!REQUIRED_KINDS.includes(r.kind)) fail(`${what} is of kind ${r.kind}; only config, layer and blob content may be required (manifests, indexes, files and keys are always carried)`);
    if (!baselines.has(r.baseline)) fail(`${what}.baseline names ${show(r.baseline)}, which is not one of baselines[]`);
  }
  if (!required.length && !m.baselines) return;
  // Referenced: every distinct digest images, referrers and charts list.
  const referenced = new Set<string>();
  for (const img of m.images) {
    for (const d of img.blobs) referenced.add(d);
    for (const r of img.referrers ?? []) for (const d of r.blobs) referenced.add(d);
  }
  const imageContent = new Set(referenced);
  for (const c of chartsOf(m)) for (const d of c.blobs) referenced.add(d);
  for (const [i, r] of required.entries()) {
    if (!imageContent.has(r.digest)) fail(`required[${i}] (${r.digest}) is needed by no image or referrer of this bundle`);
  }
  const requiredSize = new Map(required.map((r) => [r.digest, r.size]));
  const sizeOf = (d: string): number => blobs.get(d)?.size ?? requiredSize.get(d) ?? 0;
  const expect = {
    carriedBytes: m.blobs.reduce((n, b) => n + b.size, 0),
    referencedBytes: [...referenced].reduce((n, d) => n + sizeOf(d), 0),
    requiredBytes: required.reduce((n, r) => n + r.size, 0),
    requiredBlobs: required.length,
  };
  const delta = m.delta ?? fail('a delta (required or baselines given) must say what it saved in delta');
  for (const k of Object.keys(expect) as Array<keyof typeof expect>) {
    if (delta[k] !== expect[k]) fail(`delta.${k} is ${delta[k]}, but blobs and required add up to ${expect[k]}`);
  }
}
