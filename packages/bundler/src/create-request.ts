// From ferry-bundle's flags (and a spec file) to one createBundle options object: shared by
// `create` and `sync`, so a weekly run builds exactly what `create SPEC.yaml` would.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { FerryError, loadPrivateKey, loadTrustedKeys, parsePlatform, parseVolumeSize, printable } from '@ferry/format-spec';
import { credentialsRefused, hasCredentials } from '@ferry/oci';
import { asArray, terminalPrompt } from '@ferry/cli-kit';
import type { CreateOptions, ImageRequest } from './create.js';
import { insecureHosts } from './tls-flags.js';
import { isLocalChartSpec, loadSpecFile } from './spec-file.js';
import { chartFetcher } from './chart-sources.js';
import type { ChartRequest } from './charts.js';
import { sourceOpener } from './open-sources.js';
import { findLoaders, parseWithLoader, type LoaderSource } from './loaders.js';
import { parseFileArg, type FileRequest } from './sources/files.js';
import { parseSbomFileFlag } from './sbom/attach.js';
import { resolveBaselines } from './baseline/resolve.js';
import type { Baseline } from './baseline/types.js';

/** --images-file lines with their line numbers; blank lines and # comments skipped. */
async function readImagesFileLines(path: string): Promise<Array<{ ref: string; line: number }>> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new FerryError('INPUT_NOT_FOUND', `--images-file ${printable(path)}: not found`);
  });
  return text
    .split('\n')
    .map((l, i) => ({ ref: l.replace(/(^|\s)#.*$/, '').trim(), line: i + 1 }))
    .filter((l) => l.ref !== '');
}

/** --images-file: one reference a line; blank lines and # comments ignored (the seed's images-to-mirror.txt). */
export async function readImagesFile(path: string): Promise<string[]> {
  return (await readImagesFileLines(path)).map((l) => l.ref);
}

/**
 * Refuse `user:password@` in an image source before anything runs: the source is echoed in
 * progress and reports and signed into the manifest as written. `where` says which flag or line.
 */
function refuseCredentials(source: string, where: string): void {
  if (hasCredentials(source)) {
    const e = credentialsRefused(source);
    throw new FerryError(e.code, `${where}: ${e.message}`, e.details);
  }
}

/** The same rule for a chart URL (`https://user:pw@host/...` or `oci://user:pw@host/...`);
 *  `NAME@VERSION` after the last slash is a version, not a user. */
function refuseChartCredentials(chart: string, where: string): void {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)/i.exec(chart);
  if (m && m[2]!.includes('@')) {
    throw new FerryError('USAGE', `${where}: the chart URL carries credentials (user:password@ before the host); remove them and give them with --chart-creds, FERRY_CHART_CREDS or a Helm repositories.yaml (--repository-config) — a chart source is printed and signed into the manifest as written`);
  }
}

export interface CreateArgv {
  spec?: string;
  out?: string;
  name?: string;
  key?: string;
  passwordFile?: string;
  unsigned: boolean;
  image?: string[];
  imagesFile?: string[];
  chart?: string[];
  chartsFile?: string[];
  chartDependencies?: boolean;
  chartImages?: boolean;
  chartCreds?: string;
  repositoryConfig?: string;
  file?: string[];
  publicKey?: string[];
  platform?: string[];
  volumeSize?: string;
  baseline?: string[];
  since?: string;
  stateDir?: string;
  baselineKey?: string[];
  compressionLevel?: number;
  concurrency?: number;
  authfile?: string;
  creds?: string;
  caFile?: string[];
  insecureRegistry?: string[];
  tlsVerify?: boolean;
  srcTlsVerify?: boolean;
  referrers: boolean;
  sbomFile?: string[];
  keepGoing: boolean;
  replace: boolean;
  cache?: string;
  withLoader?: string;
  loaderDir?: string;
  json: boolean;
}

/** What `create` (and each `sync` run) hands to createBundle, and what must be closed after. */
export interface CreateRequest {
  /** Everything but the opened key, the events and the signal; `name`/`outDir` may be overridden by sync. */
  options: Omit<CreateOptions, 'key' | 'onEvent' | 'signal'>;
  /** --volume-size as given (or the spec's, or the default preset), for messages and the burn plan. */
  sizeText: string;
  loaders: readonly LoaderSource[];
  /** Cache hits and misses of registry sources (--cache), for the summary. */
  cacheStats: ReturnType<ReturnType<typeof sourceOpener>['cacheStats']>;
  close(): void;
}

/** Parse and check every flag and the spec before any key, network or output is touched.
 *  `over.name` / `over.outDir` replace --name / --out (sync names each run's bundle by date). */
export async function createRequest(argv: CreateArgv, over: { name?: string; outDir?: string } = {}): Promise<CreateRequest> {
  const spec = argv.spec ? await loadSpecFile(argv.spec) : undefined;
  const specDir = argv.spec ? dirname(resolve(argv.spec)) : process.cwd();
  const baselines = await baselinesOf(argv);

  const images: ImageRequest[] = [];
  for (const i of spec?.images ?? []) {
    const req = typeof i === 'string' ? { source: i } : { source: i.source, ...(i.name ? { name: i.name } : {}), ...(i.platforms ? { platforms: i.platforms } : {}), ...(i.sboms ? { sboms: i.sboms } : {}) };
    refuseCredentials(req.source, `${printable(argv.spec ?? 'spec file')}: images`);
    images.push(req);
  }
  for (const f of asArray(argv.imagesFile)) {
    for (const l of await readImagesFileLines(f)) {
      refuseCredentials(l.ref, `--images-file ${printable(f)}:${l.line}`);
      images.push({ source: l.ref });
    }
  }
  for (const r of asArray(argv.image)) {
    refuseCredentials(r, '--image');
    images.push({ source: r });
  }

  // Charts: the spec's (local paths already absolute), --charts-file lines, then --chart.
  const charts: ChartRequest[] = [...(spec?.charts ?? [])];
  for (const c of charts) refuseChartCredentials(typeof c === 'string' ? c : c.repo, `${printable(argv.spec ?? 'spec file')}: charts`);
  for (const f of asArray(argv.chartsFile)) {
    for (const l of await readImagesFileLines(f)) {
      refuseChartCredentials(l.ref, `--charts-file ${printable(f)}:${l.line}`);
      const base = dirname(resolve(f));
      charts.push(isLocalChartSpec(l.ref, base) ? resolve(base, l.ref) : l.ref);
    }
  }
  for (const c of asArray(argv.chart)) {
    refuseChartCredentials(c, '--chart');
    charts.push(c);
  }

  // Checked here so a malformed value stops the run before any key or source is touched.
  const sbomFiles = asArray(argv.sbomFile).map(parseSbomFileFlag);

  const files: FileRequest[] = [];
  const specFiles: FileRequest[] = (spec?.files ?? []).map((f) => (typeof f === 'string' ? { source: f } : { source: f.source, ...(f.dest ? { dest: f.dest } : {}) }));
  for (const r of asArray(argv.file)) files.push(parseFileArg(r, process.cwd()));

  // `--platform all` (skopeo copy --all, crane --platform all): every platform, as with none given.
  const asked = asArray(argv.platform).length ? asArray(argv.platform) : spec?.platforms ?? [];
  const platforms = asked.includes('all') ? [] : asked;
  for (const p of platforms) {
    try {
      parsePlatform(p);
    } catch (e) {
      throw new FerryError('USAGE', `--platform: ${(e as Error).message}`);
    }
  }
  const name = over.name ?? argv.name ?? spec?.name;
  if (!name) throw new FerryError('USAGE', 'give --name NAME (or name: in the spec file)');
  const out = over.outDir ?? argv.out ?? '.';
  const sizeText = argv.volumeSize ?? (spec?.volumeSize !== undefined ? String(spec.volumeSize) : 'usb-fat32');
  const volumeSize = parseVolumeSize(sizeText);
  const insecure = insecureHosts(asArray(argv.insecureRegistry), images.map((i) => i.source), argv.tlsVerify === false || argv.srcTlsVerify === false ? false : undefined);
  const loaderPlatforms = parseWithLoader(argv.withLoader);
  const loaders = loaderPlatforms ? await findLoaders(loaderPlatforms, ...(argv.loaderDir ? [resolve(argv.loaderDir)] : [])) : [];
  const registryOpts = {
    ...(argv.authfile ? { authFile: argv.authfile } : {}),
    ...(argv.creds ?? process.env.FERRY_REGISTRY_CREDS ? { creds: argv.creds ?? process.env.FERRY_REGISTRY_CREDS } : {}),
    ...(asArray(argv.caFile).length ? { caFile: asArray(argv.caFile) } : {}),
    ...(insecure.length ? { insecure } : {}),
    ...(argv.concurrency ? { concurrency: argv.concurrency } : {}),
  };
  const opener = sourceOpener(registryOpts, argv.cache ? resolve(argv.cache) : undefined);
  const chartCreds = argv.chartCreds ?? process.env.FERRY_CHART_CREDS;
  const fetchCharts = chartFetcher({
    registry: registryOpts,
    http: {
      ...(chartCreds ? { creds: chartCreds } : {}),
      ...(asArray(argv.caFile).length ? { caFile: asArray(argv.caFile) } : {}),
      ...(asArray(argv.insecureRegistry).length ? { insecure: asArray(argv.insecureRegistry) } : {}),
    },
    ...(argv.repositoryConfig ? { repositoryConfig: argv.repositoryConfig } : {}),
    cwd: process.cwd(),
  });
  return {
    options: {
      outDir: resolve(out),
      name,
      ...(argv.key ? { keyPath: argv.key } : {}),
      unsigned: argv.unsigned,
      images,
      charts,
      chartDependencies: argv.chartDependencies ?? spec?.chartDependencies ?? false,
      chartImages: argv.chartImages ?? spec?.chartImages ?? false,
      fetchCharts,
      // Spec-file files resolve against the spec's directory, command-line ones against the cwd.
      files: [...specFiles.map((f) => ({ ...f, source: resolve(specDir, f.source), cwd: specDir })), ...files],
      publicKeys: [...(spec?.publicKeys ?? []).map((p) => resolve(specDir, p)), ...asArray(argv.publicKey)],
      platforms,
      volumeSize,
      ...(argv.compressionLevel !== undefined ? { compressionLevel: argv.compressionLevel } : spec?.compressionLevel !== undefined ? { compressionLevel: spec.compressionLevel } : {}),
      cwd: process.cwd(),
      openSources: opener,
      ...(loaders.length ? { loaders } : {}),
      referrers: argv.referrers,
      sbomFiles,
      keepGoing: argv.keepGoing,
      replace: argv.replace,
      ...(baselines.length ? { baselines } : {}),
      ...(argv.stateDir !== undefined ? { stateDir: resolve(argv.stateDir) } : {}),
    },
    sizeText,
    loaders,
    get cacheStats() {
      return opener.cacheStats();
    },
    close: () => {
      opener.close();
      fetchCharts.close();
    },
  };
}

/** The signing key, opened (its passphrase asked for on a terminal) before any progress display. */
export async function openSigningKey(argv: Pick<CreateArgv, 'key' | 'passwordFile'>): Promise<KeyObject | undefined> {
  if (!argv.key) return undefined;
  const prompt = terminalPrompt();
  return loadPrivateKey(argv.key, { ...(argv.passwordFile !== undefined ? { passwordFile: argv.passwordFile } : {}), ...(prompt ? { prompt: (q) => prompt.secret(q) } : {}) });
}

/** --baseline, --since, --state-dir, --baseline-key: the baselines a delta is built against. */
async function baselinesOf(argv: CreateArgv): Promise<Baseline[]> {
  const specs = asArray(argv.baseline);
  let since: Date | undefined;
  if (argv.since !== undefined) {
    since = new Date(argv.since);
    if (!/^\d{4}-\d{2}-\d{2}/.test(argv.since) || Number.isNaN(since.getTime())) throw new FerryError('USAGE', `--since ${JSON.stringify(argv.since)}: give a date, e.g. 2026-11-01 or 2026-11-01T00:00:00Z`);
  }
  if (!specs.length && !since) {
    if (asArray(argv.baselineKey).length) throw new FerryError('USAGE', '--baseline-key needs --baseline FILE (or --since)');
    return [];
  }
  const keys = await loadTrustedKeys(asArray(argv.baselineKey));
  return resolveBaselines({ specs, ...(since ? { since } : {}), ...(argv.stateDir !== undefined ? { stateDir: resolve(argv.stateDir) } : {}), ...(keys.length ? { trustedKeys: keys.map((k) => k.key) } : {}) });
}
