// The real helm (v3.22.0, built by scripts/test-tools.sh) as an independent Helm client, with
// fully isolated configuration: each newHelm() gets its own temp HOME with HELM_CONFIG_HOME,
// HELM_CACHE_HOME, HELM_DATA_HOME, the registry config (helm's docker-style config.json), the
// repositories.yaml and the repository cache under it, and the caller's own HELM_* variables and
// KUBECONFIG out of reach. So `helm repo add` in one test never leaks into another, nor into
// the user's helm. Runs are async (spawn) with a timeout: never a spawnSync that would freeze an
// in-process server the run talks to.
//
// Also: makeChart() writes an unpacked chart directory, and makeSigningKeyring() a throwaway
// GPG key as the legacy secring.gpg/pubring.gpg that `helm package --sign` and `helm verify`
// read (helm has its own OpenPGP code and never calls gpg).

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { goTool, runTool, type ToolResult } from './tools.js';

export interface HelmRunOptions {
  /** Kill helm after this long (it then resolves with code -1); default 120 s. */
  timeoutMs?: number;
  input?: string;
  cwd?: string;
  /** Extra environment on top of the isolated one. */
  env?: Record<string, string | undefined>;
}

/** How helm reaches a chart repository or registry. */
export interface HelmAccess {
  /** Plain HTTP to an OCI registry (`--plain-http`). */
  plainHttp?: boolean;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
}

export interface HelmPackageOptions {
  /** `--sign --key KEY --keyring SECRING`: writes `<tgz>.prov` next to the chart. */
  sign?: { key: string; keyring: string; passphraseFile?: string };
  version?: string;
  appVersion?: string;
  /** `--dependency-update`: fetch Chart.yaml dependencies into charts/ first. */
  dependencyUpdate?: boolean;
}

export interface PackagedChart {
  tgz: string;
  /** Present when signed. */
  prov?: string;
}

export interface HelmRepoAddOptions {
  username?: string;
  /** Goes through stdin (`--password-stdin`), never argv. */
  password?: string;
  caFile?: string;
  insecureSkipTls?: boolean;
  passCredentials?: boolean;
  forceUpdate?: boolean;
}

export interface HelmPullOptions extends HelmAccess {
  version?: string;
  /** Directory to write into; default a fresh one under the helper's home. */
  destination?: string;
  /** `--repo URL`: pull CHART from this repository URL without `helm repo add`. */
  repo?: string;
  /** `--verify --keyring PUBRING`: helm fetches `<chart>.prov` and checks it. */
  verify?: { keyring: string };
  /** `--prov`: fetch the .prov too, without verifying. */
  prov?: boolean;
}

export interface PulledChart {
  tgz: string;
  /** Present when helm wrote one (with verify or prov). */
  prov?: string;
  stdout: string;
  stderr: string;
}

export interface HelmShowOptions extends HelmAccess {
  version?: string;
  repo?: string;
}

export interface HelmTemplateOptions extends HelmShowOptions {
  releaseName?: string;
  /** Value files (`-f`). */
  valuesFiles?: string[];
  /** `--set k=v` pairs. */
  set?: string[];
}

export interface HelmPushed {
  /** What helm printed after "Pushed:" (host/path/name:tag). */
  ref: string;
  /** The manifest digest helm printed. */
  digest: string;
}

export interface HelmClient {
  /** The isolated HOME; every helm dir lives under it. */
  readonly home: string;
  /** The HELM_* and HOME values every run gets. */
  readonly env: Readonly<Record<string, string>>;
  /** Run helm; never rejects for a non-zero exit. */
  helm(args: string[], opts?: HelmRunOptions): Promise<ToolResult>;
  /** `helm package`; resolves to the written .tgz (and .prov when signed). */
  helmPackage(chartDir: string, outDir: string, o?: HelmPackageOptions): Promise<PackagedChart>;
  /** `helm repo index DIR --url URL [--merge FILE]`; resolves to DIR/index.yaml. */
  helmRepoIndex(dir: string, url: string, o?: { merge?: string }): Promise<string>;
  helmRepoAdd(name: string, url: string, o?: HelmRepoAddOptions): Promise<void>;
  helmRepoUpdate(names?: string[]): Promise<void>;
  /** `helm pull REF`; resolves to the .tgz it wrote (the one new file in the destination). */
  helmPull(ref: string, o?: HelmPullOptions): Promise<PulledChart>;
  /** `helm template`; resolves to the rendered manifests. */
  helmTemplate(chartRef: string, o?: HelmTemplateOptions): Promise<string>;
  /** `helm show chart`; resolves to the Chart.yaml text helm printed. */
  helmShowChart(ref: string, o?: HelmShowOptions): Promise<string>;
  /** `helm push TGZ oci://…`; a `<tgz>.prov` next to TGZ is pushed too. */
  helmPush(tgz: string, ociRef: string, o?: HelmAccess): Promise<HelmPushed>;
  /** `helm registry login HOST` (password through stdin); stored in this helper's registry config. */
  helmRegistryLogin(host: string, username: string, password: string, o?: HelmAccess & { insecure?: boolean }): Promise<void>;
  /** `helm verify TGZ --keyring PUBRING`; never rejects for a failed verification. */
  helmVerify(tgz: string, keyring: string): Promise<ToolResult>;
  /** Delete the home (also done at process exit). */
  cleanup(): Promise<void>;
}

function fail(what: string, r: ToolResult): never {
  throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim());
}

function accessFlags(o: HelmAccess): string[] {
  const f: string[] = [];
  if (o.plainHttp) f.push('--plain-http');
  if (o.caFile) f.push('--ca-file', o.caFile);
  if (o.insecureSkipTlsVerify) f.push('--insecure-skip-tls-verify');
  return f;
}

/** A helm helper with its own isolated HOME and helm directories. */
export async function newHelm(): Promise<HelmClient> {
  const bin = await goTool('helm');
  const home = await mkdtemp(join(tmpdir(), 'ferry-helm-'));
  const onExit = () => rmSync(home, { recursive: true, force: true });
  process.once('exit', onExit);
  const env: Record<string, string> = {
    HOME: home,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
    HELM_REGISTRY_CONFIG: join(home, 'config', 'registry', 'config.json'),
    HELM_REPOSITORY_CONFIG: join(home, 'config', 'repositories.yaml'),
    HELM_REPOSITORY_CACHE: join(home, 'cache', 'repository'),
    // Nothing here talks to a cluster; a missing kubeconfig keeps the user's out of it.
    KUBECONFIG: join(home, 'no-kubeconfig'),
  };
  // Any other HELM_* of the caller (driver, namespace, plugins, debug…) is dropped.
  const dropped: Record<string, undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('HELM_') && !(k in env)) dropped[k] = undefined;
  let pulls = 0;

  const helm = (args: string[], o: HelmRunOptions = {}): Promise<ToolResult> =>
    runTool(bin, args, home, {
      env: { ...dropped, ...env, ...o.env },
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.input !== undefined ? { input: o.input } : {}),
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    });

  const must = async (what: string, args: string[], o?: HelmRunOptions): Promise<ToolResult> => {
    const r = await helm(args, o);
    if (r.code !== 0) fail(what, r);
    return r;
  };

  return {
    home,
    env,
    helm,

    async helmPackage(chartDir, outDir, o = {}) {
      await mkdir(outDir, { recursive: true });
      const args = ['package', chartDir, '--destination', outDir];
      if (o.version) args.push('--version', o.version);
      if (o.appVersion) args.push('--app-version', o.appVersion);
      if (o.dependencyUpdate) args.push('--dependency-update');
      if (o.sign) {
        args.push('--sign', '--key', o.sign.key, '--keyring', o.sign.keyring);
        if (o.sign.passphraseFile) args.push('--passphrase-file', o.sign.passphraseFile);
      }
      const r = await must(`helm package ${chartDir}`, args);
      const m = /saved it to: (.+\.tgz)\s*$/m.exec(r.stdout);
      if (!m) fail(`helm package ${chartDir} (no "saved it to:" line)`, r);
      const tgz = m[1]!.trim();
      return { tgz, ...(o.sign ? { prov: `${tgz}.prov` } : {}) };
    },

    async helmRepoIndex(dir, url, o = {}) {
      await must(`helm repo index ${dir}`, ['repo', 'index', dir, '--url', url, ...(o.merge ? ['--merge', o.merge] : [])]);
      return join(dir, 'index.yaml');
    },

    async helmRepoAdd(name, url, o = {}) {
      const args = ['repo', 'add', name, url];
      if (o.username !== undefined) args.push('--username', o.username);
      if (o.password !== undefined) args.push('--password-stdin');
      if (o.caFile) args.push('--ca-file', o.caFile);
      if (o.insecureSkipTls) args.push('--insecure-skip-tls-verify');
      if (o.passCredentials) args.push('--pass-credentials');
      if (o.forceUpdate) args.push('--force-update');
      await must(`helm repo add ${name} ${url}`, args, o.password !== undefined ? { input: o.password } : {});
    },

    async helmRepoUpdate(names = []) {
      await must('helm repo update', ['repo', 'update', ...names]);
    },

    async helmPull(ref, o = {}) {
      const dest = o.destination ?? join(home, 'pulls', String(++pulls));
      await mkdir(dest, { recursive: true });
      const before = new Set(await readdir(dest));
      const args = ['pull', ref, '--destination', dest, ...accessFlags(o)];
      if (o.version) args.push('--version', o.version);
      if (o.repo) args.push('--repo', o.repo);
      if (o.verify) args.push('--verify', '--keyring', o.verify.keyring);
      if (o.prov) args.push('--prov');
      const r = await must(`helm pull ${ref}`, args);
      const added = (await readdir(dest)).filter((f) => !before.has(f));
      const tgz = added.find((f) => f.endsWith('.tgz'));
      if (!tgz) fail(`helm pull ${ref} (no new .tgz in ${dest}: ${added.join(', ') || 'nothing'})`, r);
      const prov = added.find((f) => f === `${tgz}.prov`);
      return { tgz: join(dest, tgz), ...(prov ? { prov: join(dest, prov) } : {}), stdout: r.stdout, stderr: r.stderr };
    },

    async helmTemplate(chartRef, o = {}) {
      const args = ['template', o.releaseName ?? 'ferry-test', chartRef, ...accessFlags(o)];
      if (o.version) args.push('--version', o.version);
      if (o.repo) args.push('--repo', o.repo);
      for (const f of o.valuesFiles ?? []) args.push('--values', f);
      for (const s of o.set ?? []) args.push('--set', s);
      return (await must(`helm template ${chartRef}`, args)).stdout;
    },

    async helmShowChart(ref, o = {}) {
      const args = ['show', 'chart', ref, ...accessFlags(o)];
      if (o.version) args.push('--version', o.version);
      if (o.repo) args.push('--repo', o.repo);
      return (await must(`helm show chart ${ref}`, args)).stdout;
    },

    async helmPush(tgz, ociRef, o = {}) {
      const r = await must(`helm push ${tgz} ${ociRef}`, ['push', tgz, ociRef, ...accessFlags(o)]);
      const out = `${r.stdout}\n${r.stderr}`;
      const ref = /^Pushed: (\S+)/m.exec(out)?.[1];
      const digest = /^Digest: (sha256:[0-9a-f]{64})/m.exec(out)?.[1];
      if (!ref || !digest) fail(`helm push ${tgz} (no Pushed:/Digest: lines)`, r);
      return { ref, digest };
    },

    async helmRegistryLogin(host, username, password, o = {}) {
      const args = ['registry', 'login', host, '--username', username, '--password-stdin'];
      if (o.plainHttp) args.push('--plain-http');
      if (o.caFile) args.push('--ca-file', o.caFile);
      if (o.insecure || o.insecureSkipTlsVerify) args.push('--insecure');
      await must(`helm registry login ${host}`, args, { input: password });
    },

    helmVerify(tgz, keyring) {
      return helm(['verify', tgz, '--keyring', keyring]);
    },

    async cleanup() {
      process.removeListener('exit', onExit);
      await rm(home, { recursive: true, force: true });
    },
  };
}

export interface ChartDependency {
  name: string;
  version: string;
  repository?: string;
  condition?: string;
  alias?: string;
  tags?: string[];
}

export interface ChartSpec {
  name: string;
  version: string;
  appVersion?: string;
  /** Default v2 (Helm 3). */
  apiVersion?: 'v1' | 'v2';
  description?: string;
  type?: 'application' | 'library';
  /** values.yaml text; default a small map the default template uses. */
  values?: string;
  /** File name under templates/ → content; default one ConfigMap. */
  templates?: Record<string, string>;
  dependencies?: ChartDependency[];
  annotations?: Record<string, string>;
  /** Any other files, by path relative to the chart dir (crds/…, README.md, .helmignore). */
  files?: Record<string, string>;
  /** Other Chart.yaml fields (home, sources, keywords, maintainers, kubeVersion…). */
  extra?: Record<string, unknown>;
}

const DEFAULT_VALUES = 'greeting: hello\n';
const DEFAULT_TEMPLATE = [
  'apiVersion: v1',
  'kind: ConfigMap',
  'metadata:',
  '  name: {{ .Release.Name }}-{{ .Chart.Name }}',
  'data:',
  '  greeting: {{ .Values.greeting | default "hello" | quote }}',
  '  chartVersion: {{ .Chart.Version | quote }}',
  '',
].join('\n');

/** Write an unpacked chart into `dir` (created; it is the chart's own directory). Resolves to `dir`. */
export async function makeChart(dir: string, spec: ChartSpec): Promise<string> {
  await mkdir(join(dir, 'templates'), { recursive: true });
  const chart: Record<string, unknown> = {
    apiVersion: spec.apiVersion ?? 'v2',
    name: spec.name,
    version: spec.version,
    ...(spec.appVersion !== undefined ? { appVersion: spec.appVersion } : {}),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(spec.type !== undefined ? { type: spec.type } : {}),
    ...(spec.dependencies ? { dependencies: spec.dependencies } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
    ...spec.extra,
  };
  await writeFile(join(dir, 'Chart.yaml'), stringify(chart));
  await writeFile(join(dir, 'values.yaml'), spec.values ?? DEFAULT_VALUES);
  const templates = spec.templates ?? (spec.type === 'library' ? {} : { 'configmap.yaml': DEFAULT_TEMPLATE });
  for (const [name, text] of Object.entries(templates)) {
    await mkdir(dirname(join(dir, 'templates', name)), { recursive: true });
    await writeFile(join(dir, 'templates', name), text);
  }
  for (const [rel, text] of Object.entries(spec.files ?? {})) {
    const p = resolve(dir, rel);
    if (!p.startsWith(resolve(dir) + '/')) throw new Error(`makeChart: ${rel} is outside the chart dir`);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, text);
  }
  return dir;
}

export interface SigningKeyring {
  /** Directory holding secring.gpg and pubring.gpg (removed at process exit). */
  dir: string;
  /** The user ID's name: what `helm package --sign --key` matches. */
  name: string;
  email: string;
  /** Legacy secret keyring (`gpg --export-secret-keys`), unencrypted key, for `helm package --sign`. */
  secring: string;
  /** Public keyring (`gpg --export`), for `helm verify` / `helm pull --verify`. */
  pubring: string;
  fingerprint: string;
}

function gpg(gnupgHome: string, args: string[]): Promise<string> {
  return new Promise((ok, bad) => {
    execFile('gpg', ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
      { env: { ...process.env, GNUPGHOME: gnupgHome }, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => (err ? bad(new Error(`gpg ${args.join(' ')} failed: ${stderr || err.message}`)) : ok(stdout)));
  });
}

/**
 * A throwaway RSA signing key made by the real gpg in a temp GNUPGHOME, exported as the legacy
 * keyring files helm reads (helm 3.22 parses them with ProtonMail/go-crypto). RSA 2048 is named
 * so the key type does not follow gpg's default (ed25519 from GnuPG 2.3 on), and it is quick to
 * make. The gpg-agent that gpg started for this GNUPGHOME is stopped and the GNUPGHOME deleted
 * before this resolves.
 */
export async function makeSigningKeyring(o: { name?: string; email?: string } = {}): Promise<SigningKeyring> {
  const name = o.name ?? 'Ferry Test';
  const email = o.email ?? 'ferry-test@example.invalid';
  // Short path: gpg-agent's socket lives in GNUPGHOME and a Unix socket path is limited to 108 bytes.
  const gnupgHome = await mkdtemp(join(tmpdir(), 'ferry-gpg-'));
  const dir = await mkdtemp(join(tmpdir(), 'ferry-keyring-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  try {
    await gpg(gnupgHome, ['--quick-gen-key', `${name} <${email}>`, 'rsa2048', 'sign', 'never']);
    const colons = await gpg(gnupgHome, ['--with-colons', '--list-secret-keys', email]);
    const fingerprint = /^fpr:(?:[^:]*:){8}([0-9A-F]{40}):/m.exec(colons)?.[1];
    if (!fingerprint) throw new Error(`gpg listed no fingerprint for ${email}:\n${colons}`);
    const secring = join(dir, 'secring.gpg');
    const pubring = join(dir, 'pubring.gpg');
    await gpg(gnupgHome, ['--output', secring, '--export-secret-keys', fingerprint]);
    await gpg(gnupgHome, ['--output', pubring, '--export', fingerprint]);
    return { dir, name, email, secring, pubring, fingerprint };
  } finally {
    // Ends only the agent of this GNUPGHOME (gpgconf finds it by the socket there).
    await new Promise<void>((ok) => execFile('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } }, () => ok()));
    await rm(gnupgHome, { recursive: true, force: true });
  }
}
