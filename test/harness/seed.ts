// Seeding registries for tests with clients independent of Ferry's: skopeo pushes image
// layouts (test/helpers/images.ts), and plain fetch() writes cosign-format artifacts
// (tooling.md §4b). An OCI 1.1 referrer is pushed with Ferry's own client (pushReferrer), as
// a loader would.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, writeFile, readFile, copyFile, mkdir } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pushBlob, pushReferrer, type RegistryClient } from '../../packages/oci/src/index.js';

const execFileP = promisify(execFile);

export interface RegistryAddress {
  host: string;
  url: string;
  caFile?: string;
}

let scratch: Promise<string> | undefined;
function scratchDir(): Promise<string> {
  scratch ??= mkdtemp(join(tmpdir(), 'ferry-seed-')).then((d) => {
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
    return d;
  });
  return scratch;
}

/** skopeo's TLS/auth flags for one side (`src` or `dest`) of a copy, or for inspect (no prefix). */
async function tlsFlags(reg: RegistryAddress, side: 'src' | 'dest' | '', creds?: string): Promise<string[]> {
  const p = side ? `--${side}-` : '--';
  const out: string[] = [];
  if (reg.caFile) {
    // --cert-dir reads *.crt as CAs and pairs *.key with *.cert: give it a dir with only the CA.
    const dir = join(await scratchDir(), `ca-${createHash('sha256').update(reg.caFile).digest('hex').slice(0, 12)}`);
    await mkdir(dir, { recursive: true });
    await copyFile(reg.caFile, join(dir, 'ca.crt'));
    out.push(`${p}cert-dir`, dir);
  } else {
    out.push(`${p}tls-verify=false`); // plain HTTP on loopback
  }
  if (creds) out.push(`${p}creds`, creds);
  return out;
}

async function policyFile(): Promise<string> {
  const f = join(await scratchDir(), 'policy.json');
  await writeFile(f, '{"default":[{"type":"insecureAcceptAnything"}]}');
  return f;
}

export async function skopeo(args: string[]): Promise<Buffer> {
  try {
    const { stdout } = await execFileP('skopeo', ['--policy', await policyFile(), ...args], { encoding: 'buffer', maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

/** Raw manifest bytes as skopeo reads them from the registry. */
export async function skopeoInspectRaw(reg: RegistryAddress, ref: string, creds?: string): Promise<Buffer> {
  return skopeo(['inspect', '--raw', ...(await tlsFlags(reg, '', creds)), `docker://${reg.host}/${ref}`]);
}

/**
 * `skopeo copy --all --preserve-digests oci:LAYOUT:TAG docker://HOST/DEST`, then check with
 * `skopeo inspect --raw` that the registry holds the layout's root manifest byte for byte.
 */
export async function seedLayout(reg: RegistryAddress, layoutDir: string, tag: string, dest: string, creds?: string): Promise<{ digest: string; bytes: Buffer }> {
  await skopeo(['copy', '-q', '--all', '--preserve-digests', ...(await tlsFlags(reg, 'dest', creds)), `oci:${layoutDir}:${tag}`, `docker://${reg.host}/${dest}`]);
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const root = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!root) throw new Error(`tag ${tag} not in ${layoutDir}`);
  const bytes = await skopeoInspectRaw(reg, dest, creds);
  const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  if (digest !== root.digest) throw new Error(`skopeo changed the digest of ${dest}: layout ${root.digest}, registry ${digest}`);
  return { digest, bytes };
}

// ---- plain-HTTP writes with fetch (independent of Ferry's client) ----

export async function rawPushBlob(regUrl: string, repo: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const post = await fetch(`${regUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (post.status !== 202) throw new Error(`POST upload: ${post.status}`);
  const loc = new URL(post.headers.get('location')!, regUrl);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(data) });
  if (put.status !== 201) throw new Error(`PUT blob: ${put.status} ${await put.text()}`);
  return { digest, size: data.length };
}

export async function rawPutManifest(regUrl: string, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${regUrl}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: new Uint8Array(bytes) });
  if (res.status !== 201) throw new Error(`PUT manifest ${ref}: ${res.status} ${await res.text()}`);
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

export function generateSigningKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

/** A cosign-format signature manifest under tag `sha256-<hex>.sig` (tooling.md §4b). */
export async function writeCosignSignature(regUrl: string, repo: string, subjectDigest: string, privatePem: string, dockerReference: string) {
  const payload = Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': subjectDigest }, type: 'cosign container image signature' },
    optional: null,
  }));
  const signature = sign('sha256', payload, privatePem).toString('base64'); // DER ECDSA, as cosign
  return writeCosignLayerManifest(regUrl, repo, `sha256-${hexOf(subjectDigest)}.sig`, payload, 'application/vnd.dev.cosign.simplesigning.v1+json', {
    'dev.cosignproject.cosign/signature': signature,
  }).then((r) => ({ ...r, payload, signature }));
}

/** A cosign-format attestation (DSSE envelope layer) under tag `sha256-<hex>.att`. */
export async function writeCosignAttestation(regUrl: string, repo: string, subjectDigest: string, privatePem: string, predicateType: string, predicate: unknown) {
  const statement = Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject: [{ name: repo, digest: { sha256: hexOf(subjectDigest) } }], predicate,
  }));
  const payloadType = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${statement.length} `), statement]);
  const envelope = Buffer.from(JSON.stringify({ payloadType, payload: statement.toString('base64'), signatures: [{ keyid: '', sig: sign('sha256', pae, privatePem).toString('base64') }] }));
  return writeCosignLayerManifest(regUrl, repo, `sha256-${hexOf(subjectDigest)}.att`, envelope, 'application/vnd.dsse.envelope.v1+json', {
    predicateType, 'dev.cosignproject.cosign/signature': '',
  });
}

async function writeCosignLayerManifest(regUrl: string, repo: string, tag: string, layer: Buffer, layerType: string, annotations: Record<string, string>) {
  const l = await rawPushBlob(regUrl, repo, layer);
  const config = Buffer.from(JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [l.digest] }, config: {} }));
  const c = await rawPushBlob(regUrl, repo, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: c.size, digest: c.digest },
    layers: [{ mediaType: layerType, size: l.size, digest: l.digest, annotations }],
  }));
  const digest = await rawPutManifest(regUrl, repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { tag, digest, size: manifest.length, manifest, layer: l, config: c };
}

const EMPTY = Buffer.from('{}');

/** An OCI 1.1 artifact referring to `subject` (e.g. an SPDX SBOM), pushed with Ferry's client by digest. */
export async function writeOciReferrer(client: RegistryClient, repo: string, subject: { mediaType: string; digest: string; size: number }, artifactType: string, content: Buffer) {
  const desc = (b: Buffer, mediaType: string) => ({ mediaType, digest: 'sha256:' + createHash('sha256').update(b).digest('hex'), size: b.length });
  const cfg = desc(EMPTY, 'application/vnd.oci.empty.v1+json');
  const layer = desc(content, artifactType);
  await pushBlob(client, repo, cfg, Readable.from([EMPTY]));
  await pushBlob(client, repo, layer, Readable.from([content]));
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType,
    config: cfg,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  }));
  const r = await pushReferrer(client, repo, bytes, 'application/vnd.oci.image.manifest.v1+json');
  return { digest: r.digest, size: bytes.length, bytes };
}
