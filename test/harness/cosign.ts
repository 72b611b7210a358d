// Helpers around the real cosign (v2.6.5, or v3.1.3 with `cosign: 'cosign3'`) and crane binaries
// built by scripts/test-tools.sh: key pairs, signatures and attestations pushed into a test
// registry as cosign itself writes them (v2: tag `sha256-<hex>.sig` / `.att`; v3: Sigstore bundles
// v0.3 as OCI 1.1 referrers, on a registry without the referrers API listed in the `sha256-<hex>`
// fallback tag index; never a transparency log), `cosign verify` and `cosign tree` against a
// registry, and `crane digest`. Every run is isolated from the user's configuration (see
// runTool) and has a timeout.
//
// Signing without a transparency log, offline:
//   v2.6.5   --tlog-upload=false
//   v3.1.3   --tlog-upload=false is deprecated and refused next to v3's default
//            --use-signing-config=true (a TUF-fetched signing config). Instead: --signing-config
//            FILE made by `cosign signing-config create` with no services (no Fulcio, Rekor, TSA),
//            and --trusted-root FILE, an empty trusted root, without which cosign 3 first tries
//            the public TUF repository for one (a warning offline, a wait where DNS hangs).
// Verifying a key-based signature without a log is `--key PUB --insecure-ignore-tlog=true` in
// both (v3 needs no trusted root for it since v3.0.4).
//
// Registry flags, as cosign v2.6.5 takes them:
//   plain HTTP         --allow-http-registry (go-containerregistry would already fall back to
//                      http for 127.0.0.1, but the flag states the intent and covers other hosts)
//   TLS, own test CA   --registry-cacert CA
//   TLS, unverified    --allow-insecure-registry
// Credentials go into a docker config.json in the isolated DOCKER_CONFIG, not onto the command
// line (where a process listing would show them).

import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goTool, runTool, type ToolResult } from './tools.js';

export interface RegistryAccess {
  /** Plain-HTTP registry (allow http). */
  insecure?: boolean;
  /** CA certificate (PEM) that signed the registry's TLS certificate. */
  caFile?: string;
  /** TLS without verifying the certificate (self-signed, no CA given). */
  skipTlsVerify?: boolean;
  /** `user:password` for Basic auth (htpasswd registries). */
  creds?: string;
  /** Per-call timeout; default 120 s. */
  timeoutMs?: number;
  /** Which cosign runs: `cosign` (v2.6.5, the default) or `cosign3` (v3.1.3). */
  cosign?: CosignBinary;
}

/** The two pinned cosign builds (scripts/test-tools.sh): v2.6.5 and v3.1.3. */
export type CosignBinary = 'cosign' | 'cosign3';

let homes = 0;
let scratch: Promise<string> | undefined;
function scratchDir(): Promise<string> {
  scratch ??= mkdtemp(join(tmpdir(), 'ferry-cosign-')).then((d) => {
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
    return d;
  });
  return scratch;
}

/** A fresh HOME for one tool run; with creds, a docker config.json for the ref's registry. */
async function isolatedHome(ref: string | undefined, creds: string | undefined): Promise<string> {
  const home = join(await scratchDir(), `home-${++homes}`);
  await mkdir(join(home, '.docker'), { recursive: true });
  if (creds && ref) {
    const host = registryOf(ref);
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(creds).toString('base64') } } }), { mode: 0o600 });
  }
  return home;
}

/** `127.0.0.1:5000/ns/app@sha256:…` → `127.0.0.1:5000`. */
export function registryOf(ref: string): string {
  const i = ref.indexOf('/');
  if (i < 0) throw new Error(`not a registry reference (HOST/REPO…): ${ref}`);
  return ref.slice(0, i);
}

function registryFlags(o: RegistryAccess): string[] {
  const f: string[] = [];
  if (o.insecure) f.push('--allow-http-registry');
  if (o.skipTlsVerify) f.push('--allow-insecure-registry');
  if (o.caFile) f.push('--registry-cacert', o.caFile);
  return f;
}

/** The empty trusted root and service-less signing config cosign v3 signs with offline (see the top). */
let v3Offline: Promise<{ signingConfig: string; trustedRoot: string }> | undefined;
function cosign3OfflineFiles(): Promise<{ signingConfig: string; trustedRoot: string }> {
  v3Offline ??= (async () => {
    const dir = join(await scratchDir(), 'cosign3-offline');
    await mkdir(dir, { recursive: true });
    const signingConfig = join(dir, 'signing-config.json');
    const r = await runTool(await goTool('cosign3'), ['signing-config', 'create', '--out', signingConfig], await isolatedHome(undefined, undefined));
    if (r.code !== 0) fail('cosign3 signing-config create', r);
    const trustedRoot = join(dir, 'trusted-root.json');
    await writeFile(trustedRoot, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }));
    return { signingConfig, trustedRoot };
  })();
  return v3Offline;
}

/** The flags that make `cosign sign` / `cosign attest` write no transparency-log entry, per version. */
async function noTlogFlags(o: RegistryAccess): Promise<string[]> {
  if ((o.cosign ?? 'cosign') === 'cosign') return ['--tlog-upload=false'];
  const f = await cosign3OfflineFiles();
  return ['--signing-config', f.signingConfig, '--trusted-root', f.trustedRoot];
}

function fail(what: string, r: ToolResult): never {
  throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim());
}

async function cosign(args: string[], ref: string | undefined, o: RegistryAccess & { password?: string; env?: Record<string, string> }): Promise<ToolResult> {
  const bin = await goTool(o.cosign ?? 'cosign');
  const home = await isolatedHome(ref, o.creds);
  return runTool(bin, args, home, {
    env: { ...o.env, ...(o.password !== undefined ? { COSIGN_PASSWORD: o.password } : {}) },
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
}

export interface CosignKeys {
  key: string;
  pub: string;
}

/** `cosign generate-key-pair` in `dir` (cosign.key encrypted with `password`, cosign.pub), by cosign v2 or `tool`. */
export async function cosignKeyPair(dir: string, password: string, prefix = 'cosign', tool: CosignBinary = 'cosign'): Promise<CosignKeys> {
  await mkdir(dir, { recursive: true });
  const bin = await goTool(tool);
  const home = await isolatedHome(undefined, undefined);
  // generate-key-pair writes into its working directory.
  const r = await runTool(bin, ['generate-key-pair', '--output-key-prefix', prefix], home, { cwd: dir, env: { COSIGN_PASSWORD: password } });
  if (r.code !== 0) fail(`${tool} generate-key-pair`, r);
  return { key: join(dir, `${prefix}.key`), pub: join(dir, `${prefix}.pub`) };
}

/**
 * `cosign import-key-pair --key PEM` in `dir`: a PEM private key made elsewhere (openssl: PKCS#8
 * Ed25519, RSA or EC, or PKCS#1 RSA / SEC1 EC) re-encrypted as a cosign key, PREFIX.key + PREFIX.pub.
 */
export async function cosignImportKeyPair(dir: string, pemFile: string, password: string, prefix: string): Promise<CosignKeys> {
  await mkdir(dir, { recursive: true });
  const bin = await goTool('cosign');
  const home = await isolatedHome(undefined, undefined);
  const r = await runTool(bin, ['import-key-pair', '--key', pemFile, '--output-key-prefix', prefix], home, { cwd: dir, env: { COSIGN_PASSWORD: password } });
  if (r.code !== 0) fail('cosign import-key-pair', r);
  return { key: join(dir, `${prefix}.key`), pub: join(dir, `${prefix}.pub`) };
}

/** How cosign stores what it writes (both default to cosign v2's legacy tag scheme). */
export interface CosignStorage {
  /** `--new-bundle-format` (v2 only; cosign3 always writes it): a Sigstore bundle v0.3 pushed as an OCI 1.1 referrer (cosign v3's default). */
  newBundleFormat?: boolean;
  /** `--registry-referrers-mode=oci-1-1` (needs COSIGN_EXPERIMENTAL=1 in v2.6.5, which is set): the old formats as OCI 1.1 referrers. */
  referrersMode?: 'legacy' | 'oci-1-1';
}

function storageFlags(s: CosignStorage): { args: string[]; env: Record<string, string> } {
  const args: string[] = [];
  if (s.newBundleFormat) args.push('--new-bundle-format');
  if (s.referrersMode) args.push(`--registry-referrers-mode=${s.referrersMode}`);
  return { args, env: s.referrersMode === 'oci-1-1' ? { COSIGN_EXPERIMENTAL: '1' } : {} };
}

/** `HOST/REPO:TAG` or `HOST/REPO@DIGEST` → `HOST/REPO@DIGEST`, resolving a tag with crane. */
export async function byDigest(ref: string, o: RegistryAccess = {}): Promise<{ ref: string; repo: string; digest: string }> {
  const at = ref.indexOf('@');
  if (at >= 0) return { ref, repo: ref.slice(0, at), digest: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const repo = colon > slash ? ref.slice(0, colon) : ref;
  const digest = await craneDigest(ref, o);
  return { ref: `${repo}@${digest}`, repo, digest };
}

const hexOf = (digest: string) => digest.replace(/^sha256:/, '');

export interface Signed {
  /** The HOST/REPO@DIGEST that was signed. */
  ref: string;
  digest: string;
  /**
   * The tag written beside it: `sha256-<hex>.sig` / `.att` for cosign v2's default; for a Sigstore
   * bundle (cosign3, or v2 with newBundleFormat) the referrers fallback index tag `sha256-<hex>`,
   * where a registry without the referrers API (distribution 2.8) lists it.
   */
  tag: string;
  stderr: string;
}

const bundleFormat = (o: RegistryAccess & Pick<CosignStorage, 'newBundleFormat'>) => o.cosign === 'cosign3' || !!o.newBundleFormat;

/**
 * `cosign sign --key KEY --tlog-upload=false --yes REF@DIGEST`: a real cosign signature stored
 * in the registry under the `sha256-<hex>.sig` tag (cosign3: a Sigstore bundle referrer, signed
 * with the offline flags at the top instead of --tlog-upload=false). A tag reference is resolved to its digest
 * first, so what is signed is exactly the manifest the test means.
 */
export async function cosignSign(ref: string, keyPath: string, password: string, o: RegistryAccess & CosignStorage = {}): Promise<Signed> {
  const d = await byDigest(ref, o);
  const st = storageFlags(o);
  const r = await cosign(['sign', '--key', keyPath, ...(await noTlogFlags(o)), '--yes', ...st.args, ...registryFlags(o), d.ref], d.ref, { ...o, password, env: st.env });
  if (r.code !== 0) fail(`${o.cosign ?? 'cosign'} sign ${d.ref}`, r);
  return { ref: d.ref, digest: d.digest, tag: `sha256-${hexOf(d.digest)}${bundleFormat(o) ? '' : '.sig'}`, stderr: r.stderr };
}

/**
 * `cosign attest --key KEY --type TYPE --predicate FILE --tlog-upload=false --yes REF@DIGEST`:
 * an in-toto attestation (DSSE) under the `sha256-<hex>.att` tag.
 */
export async function cosignAttest(ref: string, keyPath: string, password: string, predicateFile: string, type = 'slsaprovenance', o: RegistryAccess & Pick<CosignStorage, 'newBundleFormat'> = {}): Promise<Signed> {
  const d = await byDigest(ref, o);
  const st = storageFlags(o); // cosign v2.6.5's attest has no --registry-referrers-mode
  const r = await cosign(['attest', '--key', keyPath, '--type', type, '--predicate', predicateFile, ...(await noTlogFlags(o)), '--yes', ...st.args, ...registryFlags(o), d.ref], d.ref, { ...o, password, env: st.env });
  if (r.code !== 0) fail(`${o.cosign ?? 'cosign'} attest ${d.ref}`, r);
  return { ref: d.ref, digest: d.digest, tag: `sha256-${hexOf(d.digest)}${bundleFormat(o) ? '' : '.att'}`, stderr: r.stderr };
}

/**
 * `cosign attach sbom --sbom FILE --type spdx|cyclonedx|syft REF@DIGEST`: an unsigned SBOM under the
 * `sha256-<hex>.sbom` tag, or with referrersMode oci-1-1 as an OCI 1.1 referrer.
 */
export async function cosignAttachSbom(ref: string, sbomFile: string, type: 'spdx' | 'cyclonedx' | 'syft', o: RegistryAccess & Pick<CosignStorage, 'referrersMode'> & { inputFormat?: 'json' | 'xml' | 'text' } = {}): Promise<Signed> {
  const d = await byDigest(ref, o);
  const st = storageFlags(o);
  const fmt = o.inputFormat ? ['--input-format', o.inputFormat] : [];
  const r = await cosign(['attach', 'sbom', '--sbom', sbomFile, '--type', type, ...fmt, ...st.args, ...registryFlags(o), d.ref], d.ref, { ...o, env: st.env });
  if (r.code !== 0) fail(`cosign attach sbom ${d.ref}`, r);
  return { ref: d.ref, digest: d.digest, tag: `sha256-${hexOf(d.digest)}.sbom`, stderr: r.stderr };
}

/**
 * `cosign sign-blob --key KEY --tlog-upload=false --new-bundle-format --bundle OUT FILE`: a Sigstore
 * bundle v0.3 with a messageSignature over the file's bytes. Resolves to the bundle JSON.
 */
export async function cosignSignBlobBundle(file: string, keyPath: string, password: string, bundleOut: string): Promise<Buffer> {
  const r = await cosign(['sign-blob', '--key', keyPath, '--tlog-upload=false', '--new-bundle-format', '--bundle', bundleOut, '--yes', file], undefined, { password });
  if (r.code !== 0) fail(`cosign sign-blob ${file}`, r);
  return readFile(bundleOut);
}

/** Extra verify flags (e.g. `--new-bundle-format --trusted-root FILE`, `--signature-digest-algorithm sha384`) and environment. */
export interface CosignVerifyOptions extends RegistryAccess {
  args?: string[];
  env?: Record<string, string>;
}

/** `cosign verify --key PUB --insecure-ignore-tlog=true REF` (exit 0 = a valid signature by that key). */
export async function cosignVerify(ref: string, pubPath: string, o: CosignVerifyOptions = {}): Promise<ToolResult> {
  return cosign(['verify', '--key', pubPath, '--insecure-ignore-tlog=true', '--output', 'json', ...(o.args ?? []), ...registryFlags(o), ref], ref, o);
}

/** `cosign verify-attestation --key PUB --type TYPE --insecure-ignore-tlog=true REF`. */
export async function cosignVerifyAttestation(ref: string, pubPath: string, type = 'slsaprovenance', o: CosignVerifyOptions = {}): Promise<ToolResult> {
  return cosign(['verify-attestation', '--key', pubPath, '--type', type, '--insecure-ignore-tlog=true', ...(o.args ?? []), ...registryFlags(o), ref], ref, o);
}

/**
 * `cosign tree REF`: cosign's own listing of what is stored beside an image (signatures,
 * attestations, SBOMs; with cosign3 also the OCI 1.1 referrers, which v2 shows only with
 * `--experimental-oci11`, pass it in args). Resolves to the run, exit code and all.
 */
export async function cosignTree(ref: string, o: CosignVerifyOptions = {}): Promise<ToolResult> {
  return cosign(['tree', ...(o.args ?? []), ...registryFlags(o), ref], ref, o);
}

/**
 * `crane digest [--insecure] REF`: the registry's digest of a tag (or digest) reference, as
 * go-containerregistry computes it. crane has no CA flag: a caFile goes in as SSL_CERT_FILE,
 * which Go's crypto/x509 reads on Linux.
 */
export async function craneDigest(ref: string, o: Omit<RegistryAccess, 'skipTlsVerify'> = {}): Promise<string> {
  const r = await crane(['digest', ...(o.insecure ? ['--insecure'] : []), ref], ref, o);
  if (r.code !== 0) fail(`crane digest ${ref}`, r);
  const d = r.stdout.trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(d)) throw new Error(`crane digest ${ref}: unexpected output ${JSON.stringify(r.stdout)}`);
  return d;
}

/** Run crane with the same isolation (and optional CA / creds) as the cosign helpers. */
export async function crane(args: string[], ref: string | undefined, o: Omit<RegistryAccess, 'skipTlsVerify' | 'cosign'> & { input?: string } = {}): Promise<ToolResult> {
  const bin = await goTool('crane');
  const home = await isolatedHome(ref, o.creds);
  return runTool(bin, args, home, {
    env: { ...(o.caFile ? { SSL_CERT_FILE: o.caFile, SSL_CERT_DIR: '/nonexistent' } : {}) },
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    // e.g. `crane edit manifest REF` reads the new manifest from a stdin that is not a terminal.
    ...(o.input !== undefined ? { input: o.input } : {}),
  });
}
