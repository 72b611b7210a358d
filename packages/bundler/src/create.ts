// ferry-bundle create: sources -> one resolved plan -> signed manifest -> volumes -> checksums.
// Every digest and size is known before a blob byte is read, so the signed manifest is written
// first in every volume and blobs then stream straight from their source into the volumes.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import {
  FerryError,
  bundleFormatFor,
  MediaTypes,
  findPathConflict,
  formatChecksums,
  hashSegments,
  imageRefName,
  keyAlgorithm,
  keyFingerprint,
  layoutIndexBytes,
  loadPrivateKey,
  planVolumes,
  printable,
  sha256Digest,
  signBytes,
  toFerryError,
  validateManifest,
  writeVolumes,
  blobInputStream,
  type BlobInput,
  type BlobKind,
  type BundleBlob,
  type BundleDelta,
  type BundleImage,
  type BundleManifest,
  type Descriptor,
  type PlannedBlob,
} from '@ferry/format-spec';
import { isRepositoryPath, isTag, resolveImage, resolveReferrers, type ImageSource, type ResolvedImage, type ResolvedReferrer } from '@ferry/oci';
import { hashFiles, listFiles, type CollectedFile, type FileRequest } from './sources/files.js';
import { collectKeys, type CollectedKey } from './sources/keys.js';
import { copyLoaders, manifestLoaders, type LoaderSource } from './loaders.js';
import { VERSION } from './version.js';
import { PREFETCH_BLOBS, Prefetcher, READ_AHEAD_CHUNKS } from './prefetch.js';
import { resolveCharts, type ChartFetcher, type ChartRequest, type ResolvedChart } from './charts.js';
import { attachSbom, findImage, readSbomFiles, type AttachableImage, type AttachedSbom, type SbomFileRequest } from './sbom/attach.js';
import { checkOutput, replaceBundle } from './replace-bundle.js';
import { ImageFailures } from './image-failures.js';
import type { Baseline } from './baseline/types.js';
import { deltaSummary, planDelta } from './delta-plan.js';
import { keepManifest } from './baseline/kept-manifests.js';

export const OCI_LAYOUT_BYTES = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
const BUNDLE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface ImageRequest {
  source: string;
  /** Target `repository[:tag]` (no registry host) overriding the one derived from the source. */
  name?: string;
  platforms?: string[];
  /** Why it is carried when nobody asked for it by name (an image a chart names). */
  foundIn?: string;
  /** SBOM files to attach to this image as OCI referrers (spec `sboms:`), relative to `cwd`. */
  sboms?: string[];
}

export interface CreateOptions {
  outDir: string;
  name: string;
  /** Private key path; omit only with `unsigned: true`. */
  keyPath?: string;
  /** The key at keyPath, already opened (the CLI does, so a passphrase prompt comes before any progress display). */
  key?: KeyObject;
  unsigned?: boolean;
  images: ImageRequest[];
  /** Helm charts (--chart, --charts-file, charts: in the spec). */
  charts?: ChartRequest[];
  /** Also carry the dependencies charts do not vendor. */
  chartDependencies?: boolean;
  /** Also carry the images charts name in values.yaml and templates. */
  chartImages?: boolean;
  /** Fetches a chart request; required when charts are given. */
  fetchCharts?: ChartFetcher;
  files: FileRequest[];
  publicKeys: string[];
  /** Default platforms for every image without its own. */
  platforms: string[];
  volumeSize: number;
  compressionLevel?: number;
  workers?: number;
  /** Base directory for relative file paths. */
  cwd: string;
  /** Carry signatures, attestations and SBOMs found for each image (default true). */
  referrers?: boolean;
  /** SBOM files to attach to images of the bundle (--sbom-file IMAGE=FILE), whatever `referrers` says. */
  sbomFiles?: SbomFileRequest[];
  /** Leave out images that fail, report them, and bundle the rest (exit code still says so). */
  keepGoing?: boolean;
  /** Rebuild a bundle of the same name already in outDir (replace-bundle.ts); refused otherwise. */
  replace?: boolean;
  /** Opens an image source string into one or more images (a docker-archive may hold several). */
  openSources: (source: string) => Promise<ImageSource[]>;
  onEvent?: (e: CreateEvent) => void;
  /** ferry-load executables to carry beside the volumes (loaders.ts findLoaders). */
  loaders?: readonly LoaderSource[];
  now?: Date;
  signal?: AbortSignal;
  /** Earlier bundles or inventories (baseline/resolve.ts): blobs they hold are left out of the
   *  volumes and listed as required (a format v4 delta). */
  baselines?: readonly Baseline[];
  /** On success, a copy of NAME.manifest.json goes to `<stateDir>/manifests/` (`--baseline last`). */
  stateDir?: string;
}

export type CreateEvent =
  | { type: 'resolving'; source: string }
  | { type: 'chart'; name: string; version: string; source: string; requiredBy?: string[]; images: number }
  | { type: 'resolved'; source: string; repository: string; tag?: string; digest: string; bytes: number; referrers: number }
  | { type: 'failed'; source: string; code: string; message: string }
  | ({ type: 'sbom' } & AttachedSbom)
  | { type: 'planned'; volumes: number; blobs: number; bytes: number }
  /** Blobs larger than a volume are read once before writing, to record their segment digests. */
  | { type: 'hashing-segments'; blobs: number; bytes: number }
  | { type: 'progress'; volume: number; bytes: number; total: number; images: { done: number; total: number }; done?: string }
  | { type: 'written'; file: string; size: number };

export interface CreateResult {
  name: string;
  dir: string;
  manifestDigest: string;
  signed: boolean;
  signer?: { algorithm: string; fingerprint: string };
  images: Array<{ source: string; repository: string; tag?: string; digest: string; platforms: string[]; referrers: number; foundIn?: string }>;
  charts: Array<{ name: string; version: string; source: string; digest: string; size: number; provenance: boolean; requiredBy?: string[] }>;
  /** Image references found in charts (--chart-images), and whether each was carried. */
  chartImages: Array<{ reference: string; chart: string; file: string; line: number; carried: boolean }>;
  /** SBOM files attached to images as OCI referrers (--sbom-file, spec sboms:). */
  sboms: AttachedSbom[];
  /** Images left out under keepGoing, with the reason. */
  failures: Array<{ source: string; code: string; message: string }>;
  files: Array<{ path: string; size: number; digest: string }>;
  keys: Array<{ path: string; fingerprint: string }>;
  volumes: Array<{ file: string; size: number; sha256: string }>;
  blobBytes: number;
  blobCount: number;
  /** With baselines: what was left out, as the manifest records it, and from which baselines. */
  delta?: BundleDelta & { baselines: Array<{ name: string; kind: 'bundle' | 'inventory'; digest: string; created?: string; requiredBlobs: number; requiredBytes: number }> };
}

/** Where a blob's bytes come from: a stream, or a file the volume writer reads at positions. */
type BlobProvider = () => Promise<BlobInput>;

/** An image blob: its layout file where the source has one, else its stream. */
async function imageBlob(source: ImageSource, desc: Descriptor): Promise<BlobInput> {
  const file = await source.blobFile?.(desc);
  return file !== undefined ? { file } : source.openBlob(desc);
}

function parseTargetName(name: string, what: string): { repository: string; tag?: string } {
  const at = name.lastIndexOf(':');
  const slash = name.lastIndexOf('/');
  const repository = at > slash ? name.slice(0, at) : name;
  const tag = at > slash ? name.slice(at + 1) : undefined;
  if (!isRepositoryPath(repository)) {
    throw new FerryError('SPEC_INVALID', `${what}: "${repository}" is not a valid repository path (lowercase, no registry host)`);
  }
  if (tag !== undefined && !isTag(tag)) {
    throw new FerryError('SPEC_INVALID', `${what}: "${tag}" is not a valid tag`);
  }
  return tag === undefined ? { repository } : { repository, tag };
}

/** The index.json every volume carries (one writer, in format-spec, beside its check). */
export { layoutIndexBytes };

/** Same length as a real digest, for sizing the manifest before segment digests are known. */
const PLACEHOLDER_DIGEST = `sha256:${'0'.repeat(64)}`;
const withPlaceholderDigests = (blobs: readonly PlannedBlob[]): BundleBlob[] =>
  blobs.map(({ segments, ...b }) => (segments ? { ...b, segments: segments.map((s) => ({ ...s, digest: PLACEHOLDER_DIGEST })) } : b));

export async function createBundle(opts: CreateOptions): Promise<CreateResult> {
  if (!BUNDLE_NAME_RE.test(opts.name)) {
    throw new FerryError('USAGE', `--name ${JSON.stringify(opts.name)}: use letters, digits, '.', '_' and '-' (it names the files)`);
  }
  if (!opts.keyPath && !opts.unsigned) throw new FerryError('USAGE', 'give --key KEY.key to sign the bundle (or --unsigned to make an unsigned one)');
  const chartRequests = opts.charts ?? [];
  if (opts.images.length + chartRequests.length + opts.files.length + opts.publicKeys.length === 0) {
    throw new FerryError('USAGE', 'nothing to bundle: give --image, --chart, --file, --public-key or a spec file');
  }
  if (chartRequests.length && !opts.fetchCharts) throw new FerryError('INTERNAL', 'charts given without a chart fetcher');
  const emit = opts.onEvent ?? (() => {});
  // Fail on the key before any long work.
  const key: KeyObject | undefined = opts.key ?? (opts.keyPath ? await loadPrivateKey(opts.keyPath) : undefined);
  // And on carried paths: files and keys are listed (not read) and their paths checked together,
  // so two paths that cannot coexist on the high side stop the run before images are resolved.
  const listed = await listFiles(opts.files, opts.cwd);
  const keys: CollectedKey[] = await collectKeys(opts.publicKeys);
  const carried = [...listed.map((f) => ({ path: f.path, from: `file ${f.absPath}` })), ...keys.map((k) => ({ path: k.path, from: `public key ${k.absPath}` }))];
  const conflict = findPathConflict(carried.map((c) => c.path));
  if (conflict) {
    const from = (p: string): string => carried.find((c) => c.path === p)!.from;
    throw new FerryError('SPEC_INVALID', `carried paths "${printable(conflict.first)}" (${printable(from(conflict.first))}) and "${printable(conflict.second)}" (${printable(from(conflict.second))}) cannot both be carried: ${conflict.why}; use dest: or rename one`, { first: conflict.first, second: conflict.second });
  }
  // And on SBOM files: read and recognised now (they are small), matched to images once resolved.
  const sbomFiles = (opts.sbomFiles ?? []).map((s) => ({ ...s, path: resolve(opts.cwd, s.file), what: `--sbom-file ${s.image}=${s.file}` }));
  const sbomDocs = await readSbomFiles([
    ...opts.images.flatMap((i) => (i.sboms ?? []).map((f) => ({ path: resolve(opts.cwd, f), what: `sboms of image ${i.source}` }))),
    ...sbomFiles,
  ]);

  await mkdir(opts.outDir, { recursive: true });
  const manifestPath = join(opts.outDir, `${opts.name}.manifest.json`);
  if ((await checkOutput(opts.outDir, opts.name, opts.replace ?? false)) === 'replace') {
    // The state dir records the bundle once it is swapped in, not while it is staged.
    const { stateDir, ...inner } = opts;
    const result = await replaceBundle(opts.outDir, opts.name, (staging) => createBundle({ ...inner, outDir: staging, replace: false }));
    if (stateDir !== undefined) await keepManifest(stateDir, opts.name, await readFile(manifestPath));
    return result;
  }

  // 1. Charts first: with --chart-images they add to the images to resolve.
  const charts: ResolvedChart[] = chartRequests.length
    ? await resolveCharts(chartRequests, {
        fetch: opts.fetchCharts!,
        dependencies: opts.chartDependencies ?? false,
        images: opts.chartImages ?? false,
        now: opts.now ?? new Date(),
        onChart: (r) => emit({ type: 'chart', name: r.chart.name, version: r.chart.version, source: r.chart.source, ...(r.chart.requiredBy ? { requiredBy: r.chart.requiredBy } : {}), images: r.found.length }),
      })
    : [];
  const chartImages: CreateResult['chartImages'] = [];
  const imageRequests: ImageRequest[] = [...opts.images];
  for (const r of charts) {
    for (const f of r.found) {
      const known = imageRequests.some((i) => i.source === f.reference);
      chartImages.push({ reference: f.reference, chart: `${r.chart.name}@${r.chart.version}`, file: f.file, line: f.line, carried: true });
      if (!known) imageRequests.push({ source: f.reference, foundIn: `chart ${r.chart.name}@${r.chart.version} ${f.file}:${f.line}` });
    }
  }

  // 2. Resolve images (and what refers to them). One failing image stops the run unless
  //    keepGoing, in which case it is reported and left out, never silently.
  const resolved: Array<{ req: ImageRequest; img: ResolvedImage; referrers: ResolvedReferrer[]; repository: string; tag?: string }> = [];
  const failures: CreateResult['failures'] = [];
  const openedSources: ImageSource[] = [];
  const single = new Set<ImageSource>();
  try {
    for (const req of imageRequests) {
      emit({ type: 'resolving', source: req.source });
      try {
        const sources = await opts.openSources(req.source);
        openedSources.push(...sources);
        if (req.name && sources.length > 1) throw new FerryError('SPEC_INVALID', `${req.source} holds ${sources.length} images; name: applies to one image only`);
        for (const src of sources) {
          const img = await resolveImage(src, req.platforms ?? opts.platforms);
          const referrers = opts.referrers === false ? [] : await resolveReferrers(img);
          const target = req.name ? parseTargetName(req.name, req.source) : { repository: src.repository, tag: src.tag };
          const tag = target.tag ?? (req.name ? src.tag : undefined);
          resolved.push({ req, img, referrers, repository: target.repository, ...(tag ? { tag } : {}) });
          if (sources.length === 1) single.add(src);
          const bytes = [...img.blobs, ...referrers.flatMap((r) => r.blobs)].reduce((n, b) => n + b.descriptor.size, 0);
          emit({ type: 'resolved', source: src.description, repository: target.repository, ...(tag ? { tag } : {}), digest: img.root.digest, bytes, referrers: referrers.length });
        }
      } catch (e) {
        let fe = toFerryError(e);
        if (req.foundIn) fe = new FerryError(fe.code, `${fe.message} (an image named by ${req.foundIn}; leave out --chart-images, or give --keep-going to bundle the rest)`, fe.details, { cause: fe });
        failures.push({ source: req.source, code: fe.code, message: fe.message });
        emit({ type: 'failed', source: req.source, code: fe.code, message: fe.message });
      }
    }
    // Every image was tried: without keepGoing, all failures are reported together.
    if (failures.length && !opts.keepGoing) throw new ImageFailures(failures.map((f) => ({ ...f, code: f.code as FerryError['code'] })));
    for (const c of chartImages) c.carried = !failures.some((f) => f.source === c.reference);
    if (imageRequests.length > 0 && resolved.length === 0 && charts.length + opts.files.length + opts.publicKeys.length === 0) {
      throw new FerryError('PARTIAL_FAILURE', `no image could be resolved (${failures.length} failed); nothing to bundle`);
    }
    const names = new Map<string, string>();
    for (const r of resolved) {
      const n = imageRefName({ repository: r.repository, ...(r.tag ? { tag: r.tag } : {}), digest: r.img.root.digest });
      const prev = names.get(n);
      if (prev) throw new FerryError('SPEC_INVALID', `${prev} and ${r.img.source.description} would both be loaded as ${n}; give one a name:`);
      names.set(n, r.img.source.description);
    }

    // 2b. SBOM files become referrers of the image roots, recorded beside the discovered ones.
    const sboms: AttachedSbom[] = [];
    const attachable: AttachableImage[] = resolved.map((r) => ({ source: single.has(r.img.source) ? r.req.source : r.img.source.description, repository: r.repository, ...(r.tag ? { tag: r.tag } : {}), root: r.img.root }));
    const discovered = new Set(resolved.flatMap((r) => r.referrers.map((x) => x.descriptor.digest)));
    const attach = (n: number, path: string): void => {
      const a = attachSbom(attachable[n]!, resolved[n]!.referrers, sbomDocs.get(path)!, discovered);
      if (!a || sboms.some((s) => s.image === a.image && s.referrer === a.referrer)) return;
      sboms.push(a);
      emit({ type: 'sbom', ...a });
    };
    for (const req of imageRequests) {
      if (!req.sboms?.length) continue;
      const mine = resolved.flatMap((r, n) => (r.req === req ? [n] : []));
      // None: the image failed under keepGoing and is reported as such.
      if (mine.length > 1) throw new FerryError('SPEC_INVALID', `${req.source} holds ${mine.length} images; sboms: applies to one image only (use --sbom-file IMAGE=FILE with each image's name)`);
      for (const f of req.sboms) if (mine.length) attach(mine[0]!, resolve(opts.cwd, f));
    }
    for (const s of sbomFiles) {
      const failed = failures.find((f) => f.source === s.image);
      if (failed && !attachable.some((a) => a.source === s.image)) {
        failures.push({ source: s.what, code: failed.code, message: `not attached: its image ${failed.source} failed` });
        emit({ type: 'failed', source: s.what, code: failed.code, message: `not attached: its image ${failed.source} failed` });
        continue;
      }
      attach(findImage(s.image, attachable, s.what), s.path);
    }

    // 3. Files (listed and path-checked with the keys above) are read and hashed now.
    const files: CollectedFile[] = await hashFiles(listed);

    // 4. One blob table in write order: images (children first), then charts, files, keys.
    const blobs: Array<{ digest: string; size: number; mediaType: string; kind: BlobKind }> = [];
    const providers = new Map<string, BlobProvider>();
    const addBlob = (desc: Descriptor, kind: BlobKind, provider: BlobProvider) => {
      if (providers.has(desc.digest)) return;
      providers.set(desc.digest, provider);
      blobs.push({ digest: desc.digest, size: desc.size, mediaType: desc.mediaType, kind });
    };
    const images: BundleImage[] = resolved.map(({ req, img, referrers, repository, tag }) => {
      // Image blobs children first, then each referrer's (a signature after what it signs).
      for (const b of [...img.blobs, ...referrers.flatMap((r) => r.blobs)]) {
        const bytes = b.bytes;
        addBlob(b.descriptor, b.kind, bytes ? async () => Readable.from([bytes]) : () => imageBlob(img.source, b.descriptor));
      }
      return {
        // As the user wrote it, unless one source string opened several images (docker-archive).
        source: single.has(img.source) ? req.source : img.source.description,
        repository,
        ...(tag ? { tag } : {}),
        digest: img.root.digest,
        mediaType: img.root.mediaType,
        size: img.root.size,
        platformFilter: img.platformFilter,
        platforms: img.platforms,
        blobs: img.blobs.map((b) => b.descriptor.digest),
        ...(referrers.length
          ? {
              referrers: referrers.map((r) => ({
                digest: r.descriptor.digest,
                mediaType: r.descriptor.mediaType,
                size: r.descriptor.size,
                ...(r.artifactType ? { artifactType: r.artifactType } : {}),
                scheme: r.scheme,
                ...(r.tag ? { tag: r.tag } : {}),
                subject: r.subject,
                blobs: r.blobs.map((b) => b.descriptor.digest),
              })),
            }
          : {}),
      };
    });
    for (const r of charts) {
      for (const b of r.blobs) {
        const bytes = b.bytes;
        addBlob(b.descriptor, b.kind, async () => Readable.from([bytes]));
      }
    }
    for (const f of files) {
      addBlob({ digest: f.digest, size: f.size, mediaType: MediaTypes.octetStream }, 'file', async () => ({ file: f.absPath }));
    }
    for (const k of keys) {
      addBlob({ digest: k.digest, size: k.size, mediaType: 'application/x-pem-file' }, 'key', async () => Readable.from([k.bytes]));
    }
    // 4b. A delta: what a baseline says the high side holds is listed as required, not carried.
    const delta = opts.baselines?.length ? planDeltaOf(opts.baselines, blobs, images, charts.map((r) => r.chart.blobs), new Set([...files.map((f) => f.digest), ...keys.map((k) => k.digest)])) : undefined;
    if (delta) blobs.splice(0, blobs.length, ...blobs.filter((b) => !delta.plan.required.has(b.digest)));

    // 5. Plan volumes. The header (manifest, signature, oci-layout, index.json) goes into every
    //    volume and its size depends on the plan, so reserve generously and re-plan if short.
    // The lowest format version that says it: a chart-less bundle stays readable by v1 loaders.
    const bundleCharts = charts.map((r) => r.chart);
    const loaders = opts.loaders ?? [];
    const indexBytes = layoutIndexBytes(images, bundleCharts);
    const base: Omit<BundleManifest, 'volumes' | 'blobs'> = {
      ...bundleFormatFor({ charts: bundleCharts.length > 0, loaders: loaders.length > 0, required: (delta?.plan.required.size ?? 0) > 0, baselines: delta !== undefined }),
      name: opts.name,
      created: (opts.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      tool: { name: 'ferry', version: VERSION },
      ...(key ? { signer: { algorithm: keyAlgorithm(key, opts.keyPath ?? 'key'), fingerprint: keyFingerprint(key) } } : {}),
      compression: { algorithm: 'zstd', level: opts.compressionLevel ?? 3, framing: 'entry', seekTable: true },
      volumeSize: opts.volumeSize,
      layoutIndex: { digest: sha256Digest(indexBytes), size: indexBytes.length },
      images,
      files: files.map((f) => ({ path: f.path, digest: f.digest, size: f.size, integrity: f.integrity, mode: f.mode })),
      keys: keys.map((k) => ({ path: k.path, digest: k.digest, size: k.size, algorithm: k.algorithm, fingerprint: k.fingerprint })),
      ...(bundleCharts.length || loaders.length || delta ? { charts: bundleCharts } : {}),
      ...(loaders.length ? { loaders: manifestLoaders(loaders) } : {}),
      ...(delta ? { required: [...delta.plan.required.values()], baselines: delta.plan.baselines, delta: deltaSummary(blobs, delta.referenced, delta.plan.required) } : {}),
    };
    const totalBytes = blobs.reduce((n, b) => n + b.size, 0);
    const estimate = (planned: readonly PlannedBlob[], volumeCount: number) =>
      Buffer.byteLength(serialise({ ...base, volumes: volumeList(opts.name, volumeCount), blobs: withPlaceholderDigests(planned) })) + 200 /* signature */ + OCI_LAYOUT_BYTES.length + indexBytes.length;
    let reserve = estimate(blobs.map((b) => ({ ...b, volume: 999 })), Math.max(1, Math.ceil(totalBytes / opts.volumeSize))) + 2048;
    let plan = planVolumes(blobs, { volumeSize: opts.volumeSize, headerReserve: reserve });
    for (let i = 0; estimate(plan.blobs, plan.volumeCount) > reserve; i++) {
      if (i > 5) throw new FerryError('INTERNAL', 'volume plan did not converge');
      reserve = estimate(plan.blobs, plan.volumeCount) + 2048 * (i + 1);
      plan = planVolumes(blobs, { volumeSize: opts.volumeSize, headerReserve: reserve });
    }
    // Every rule but the segment digests is checked before the long pre-pass that computes them.
    const volumes = volumeList(opts.name, plan.volumeCount);
    validateManifest(JSON.parse(serialise({ ...base, volumes, blobs: withPlaceholderDigests(plan.blobs) })), `${opts.name}.manifest.json (being planned)`);
    const split = plan.blobs.filter((b) => b.segments);
    if (split.length) emit({ type: 'hashing-segments', blobs: split.length, bytes: split.reduce((n, b) => n + b.size, 0) });
    const planned = await hashSegments(plan.blobs, async (b) => blobInputStream(await providers.get(b.digest)!()), opts.signal ? { signal: opts.signal } : {});
    const manifest: BundleManifest = { ...base, volumes, blobs: planned };
    validateManifest(JSON.parse(serialise(manifest)), `${opts.name}.manifest.json (being written)`);
    const manifestBytes = Buffer.from(serialise(manifest));
    const sigText = key ? signBytes(manifestBytes, key) : undefined;
    emit({ type: 'planned', volumes: plan.volumeCount, blobs: plan.blobs.length, bytes: totalBytes });

    // 6. Stream every blob into the volumes.
    const rootOf = new Map<string, BundleImage[]>();
    for (const img of images) rootOf.set(img.digest, [...(rootOf.get(img.digest) ?? []), img]);
    let imagesDone = 0;
    const header = [
      { name: `${opts.name}.manifest.json`, bytes: manifestBytes },
      ...(sigText ? [{ name: `${opts.name}.manifest.json.sig`, bytes: Buffer.from(sigText) }] : []),
      { name: 'oci-layout', bytes: OCI_LAYOUT_BYTES },
      { name: 'index.json', bytes: indexBytes },
    ];
    const prefetch = new Prefetcher(manifest.blobs, (b) => providers.get(b.digest)!(), PREFETCH_BLOBS, READ_AHEAD_CHUNKS);
    const written = await writeVolumes({
      dir: opts.outDir,
      name: opts.name,
      volumeCount: plan.volumeCount,
      header,
      blobs: manifest.blobs,
      openBlob: (b) => prefetch.open(b),
      volumeSize: opts.volumeSize,
      level: opts.compressionLevel ?? 3,
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      mtime: new Date(manifest.created),
      onProgress: (e) => {
        // Per-image state: an image is done when the last of its blobs (its root) is written.
        let done: string | undefined;
        if (e.digest) {
          for (const img of rootOf.get(e.digest) ?? []) {
            imagesDone++;
            done = imageRefName(img);
          }
        }
        emit({ type: 'progress', volume: e.volume, bytes: e.bytes, total: totalBytes, images: { done: imagesDone, total: images.length }, ...(done ? { done } : {}) });
      },
      ...(opts.signal ? { signal: opts.signal } : {}),
    }).finally(() => prefetch.close());
    for (const v of written) emit({ type: 'written', file: v.file, size: v.size });

    // 7. Manifest and signature beside the volumes, then the checksum list (and its signature) last:
    //    a bundle without NAME.sha256 is visibly unfinished.
    await writeAtomic(manifestPath, manifestBytes);
    if (sigText) await writeAtomic(`${manifestPath}.sig`, sigText);
    await copyLoaders(loaders, opts.outDir);
    const sums = [
      { sha256: manifestDigestHex(manifestBytes), file: `${opts.name}.manifest.json` },
      ...(sigText ? [{ sha256: manifestDigestHex(Buffer.from(sigText)), file: `${opts.name}.manifest.json.sig` }] : []),
      ...written.map((v) => ({ sha256: v.sha256, file: v.file })),
      ...loaders.map((l) => ({ sha256: l.digest.slice('sha256:'.length), file: l.file })),
    ];
    const sumsText = formatChecksums(sums);
    const sumsPath = join(opts.outDir, `${opts.name}.sha256`);
    if (key) await writeAtomic(`${sumsPath}.sig`, signBytes(Buffer.from(sumsText), key));
    await writeAtomic(sumsPath, sumsText);
    // Only a bundle that was finished is remembered as what the high side will hold.
    if (opts.stateDir !== undefined) await keepManifest(opts.stateDir, opts.name, manifestBytes);

    return {
      name: opts.name,
      dir: opts.outDir,
      manifestDigest: sha256Digest(manifestBytes),
      signed: Boolean(key),
      ...(manifest.signer ? { signer: manifest.signer } : {}),
      images: images.map((i, n) => {
        const foundIn = resolved[n]?.req.foundIn;
        return { source: i.source, repository: i.repository, ...(i.tag ? { tag: i.tag } : {}), digest: i.digest, platforms: i.platforms.map((p) => [p.platform.os, p.platform.architecture, p.platform.variant].filter(Boolean).join('/')), referrers: i.referrers?.length ?? 0, ...(foundIn ? { foundIn } : {}) };
      }),
      charts: bundleCharts.map((c) => ({ name: c.name, version: c.version, source: c.source, digest: c.digest, size: c.size, provenance: Boolean(c.provenance), ...(c.requiredBy ? { requiredBy: c.requiredBy } : {}) })),
      chartImages,
      sboms,
      failures,
      files: files.map((f) => ({ path: f.path, size: f.size, digest: f.digest })),
      keys: keys.map((k) => ({ path: k.path, fingerprint: k.fingerprint })),
      volumes: written.map((v) => ({ file: v.file, size: v.size, sha256: v.sha256 })),
      blobBytes: totalBytes,
      blobCount: blobs.length,
      ...(manifest.delta && manifest.baselines
        ? {
            delta: {
              ...manifest.delta,
              baselines: manifest.baselines.map((b) => {
                const mine = (manifest.required ?? []).filter((r) => r.baseline === b.name);
                return { name: b.name, kind: b.kind, digest: b.digest, ...(b.created !== undefined ? { created: b.created } : {}), requiredBlobs: mine.length, requiredBytes: mine.reduce((n, r) => n + r.size, 0) };
              }),
            },
          }
        : {}),
    };
  } finally {
    await Promise.all(openedSources.map((s) => s.close().catch(() => {})));
  }
}

/** The delta plan over the blob table: image and referrer content may be left out; the sizes of
 *  everything images, referrers and charts reference are what a full bundle would have carried. */
function planDeltaOf(
  baselines: readonly Baseline[],
  blobs: ReadonlyArray<{ digest: string; size: number; mediaType: string; kind: BlobKind }>,
  images: readonly BundleImage[],
  chartBlobs: ReadonlyArray<readonly string[]>,
  cargo: ReadonlySet<string>,
): { plan: ReturnType<typeof planDelta>; referenced: Map<string, number> } {
  const byDigest = new Map(blobs.map((b) => [b.digest, b]));
  // Referrer content (signatures, attestations, SBOMs) is carried whatever a baseline says: it
  // is small, and the loader's --image-key policy reads it from the volumes.
  const imageDigests = new Set(images.flatMap((i) => i.blobs));
  const referrerDigests = new Set(images.flatMap((i) => (i.referrers ?? []).flatMap((r) => r.blobs)));
  const charted = new Set(chartBlobs.flat());
  const plan = planDelta(baselines, [...imageDigests].map((d) => byDigest.get(d)!), new Set([...referrerDigests, ...charted, ...cargo]));
  const referenced = new Map<string, number>();
  for (const d of [...imageDigests, ...referrerDigests, ...charted]) referenced.set(d, byDigest.get(d)!.size);
  return { plan, referenced };
}

function volumeList(name: string, count: number): BundleManifest['volumes'] {
  return Array.from({ length: count }, (_, i) => ({ index: i + 1, file: `${name}-${String(i + 1).padStart(3, '0')}.tar.zst` }));
}

/** Pretty JSON with a final newline: transfer officers read it. These bytes are what is signed. */
function serialise(m: unknown): string {
  return JSON.stringify(m, null, 2) + '\n';
}

function manifestDigestHex(bytes: Buffer): string {
  return sha256Digest(bytes).slice(7);
}

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.partial`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
