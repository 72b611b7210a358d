// ferry-bundle create --sbom-file IMAGE=FILE, end to end with real components: images seeded into
// a real distribution 2.8 registry, SBOM files attached on the low side, then
// (a) `ferry-load sbom --out` writes the very bytes of each file;
// (b) `ferry-load push` into a second registry, and crane — an independent client — reads each
//     referrer by digest and from the `sha256-<hex>` fallback tag (2.8 has no referrers API):
//     subject = the image as the target holds it (Ferry's index for a platform-filtered image),
//     artifactType = the SBOM type, layer bytes = the file;
// (c) bad inputs stop the run with a clear message, a distinct exit code and no bundle.
// Plus: the same inputs give the same referrer digests, and an SBOM the source already holds as
// that very referrer is carried once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleManifest } from '@ferry/format-spec';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';
import { crane, craneDigest } from '../harness/cosign.js';

let tmp = '';
let a: StartedRegistry;
let b: StartedRegistry;
let appDigest = '';
const files = {
  spdx: Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'team/app', dataLicense: 'CC0-1.0', documentNamespace: 'https://ferry.test/app', packages: [{ name: 'openssl', versionInfo: '3.0.13' }] }, null, 2) + '\n'),
  cdx: Buffer.from(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [{ type: 'library', name: 'zlib', version: '1.3' }] }) + '\n'),
};
const key = () => join(tmp, 'k.key');
const pub = () => join(tmp, 'k.pub');

interface CreateJson {
  ok: boolean;
  images: Array<{ repository: string; tag?: string; digest: string; referrers: number }>;
  sboms: Array<{ image: string; file: string; mediaType: string; digest: string; referrer: string; size: number; alreadyAtSource?: boolean }>;
}

const create = (name: string, extra: string[], host = a.host) =>
  bundleCli(['create', '--name', name, '--out', join(tmp, name), '--key', key(), '--insecure-registry', host, '--platform', 'linux/amd64', '--platform', 'linux/arm64', '--json', ...extra]);

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-sbom-file-'));
  await makeOciLayout(join(tmp, 'layout'), [
    { tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 30_000, seed: 'sbom-app' }] }] },
    { tag: 'multi', platforms: ['amd64', 'arm64', 's390x'].map((architecture) => ({ os: 'linux', architecture, layers: [{ size: 10_000, seed: `sbom-multi-${architecture}` }] })) },
  ]);
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  ({ digest: appDigest } = await seedLayout(a, join(tmp, 'layout'), 'app', 'team/app:1.0'));
  await seedLayout(a, join(tmp, 'layout'), 'multi', 'team/multi:2');
  await writeFile(join(tmp, 'spdx.json'), files.spdx);
  await writeFile(join(tmp, 'bom'), files.cdx); // no extension: the content says CycloneDX
  assert.is((await bundleCli(['keygen', '--out', join(tmp, 'k')])).code, 0);
});

test.after(async () => {
  await a?.stop();
  await b?.stop();
  await rm(tmp, { recursive: true, force: true });
});

let made: CreateJson;

test('create attaches both SBOMs to the image named as given to --image and by bundle name, and one to a platform-filtered image', async () => {
  const r = await create('sb', [
    '--image', `${a.host}/team/app:1.0`, '--image', `${a.host}/team/multi:2`,
    '--sbom-file', `${a.host}/team/app:1.0=${join(tmp, 'spdx.json')}`,
    '--sbom-file', `team/app:1.0=${join(tmp, 'bom')}`,
    '--sbom-file', `team/multi:2=${join(tmp, 'spdx.json')}`,
  ]);
  assert.is(r.code, 0, r.stderr);
  made = JSON.parse(r.stdout) as CreateJson;
  assert.equal(made.sboms.map((s) => [s.image, s.mediaType, s.file]), [
    ['team/app:1.0', 'application/spdx+json', join(tmp, 'spdx.json')],
    ['team/app:1.0', 'application/vnd.cyclonedx+json', join(tmp, 'bom')],
    ['team/multi:2', 'application/spdx+json', join(tmp, 'spdx.json')],
  ]);
  const m = JSON.parse(await readFile(join(tmp, 'sb', 'sb.manifest.json'), 'utf8')) as BundleManifest;
  const app = m.images.find((i) => i.repository === 'team/app')!;
  const multi = m.images.find((i) => i.repository === 'team/multi')!;
  assert.is(app.digest, appDigest);
  assert.is(multi.platformFilter.mode, 'filtered');
  assert.equal(app.referrers?.map((x) => [x.scheme, x.artifactType, x.subject]), [
    ['oci-referrer', 'application/spdx+json', appDigest],
    ['oci-referrer', 'application/vnd.cyclonedx+json', appDigest],
  ]);
  assert.equal(multi.referrers?.map((x) => x.subject), [multi.digest], 'the subject is the root the bundle carries');
  // The SBOM is one blob though two images carry it.
  assert.is(m.blobs.filter((x) => x.digest === made.sboms[0]!.digest).length, 1);

  // Reproducible: the same inputs give the same referrer digests.
  const again = await create('sb-again', ['--image', `${a.host}/team/app:1.0`, '--sbom-file', `team/app=${join(tmp, 'spdx.json')}`]);
  assert.is(again.code, 0, again.stderr);
  assert.is((JSON.parse(again.stdout) as CreateJson).sboms[0]!.referrer, made.sboms[0]!.referrer);
});

test('(a) ferry-load sbom --out writes each attached SBOM byte for byte, named by image and format', async () => {
  const out = join(tmp, 'sboms');
  const r = await loadCli(['sbom', join(tmp, 'sb'), '--trusted-key', pub(), '--out', out, '--json']);
  assert.is(r.code, 0, r.stderr);
  const list = (JSON.parse(r.stdout) as { sboms: Array<{ image: string; format: string; source: string; file?: string }> }).sboms;
  assert.equal(list.map((s) => [s.image, s.format, s.source]), [
    ['team/app:1.0', 'spdx-json', 'referrer'],
    ['team/app:1.0', 'cyclonedx-json', 'referrer'],
    ['team/multi:2', 'spdx-json', 'referrer'],
  ]);
  assert.ok((await readFile(join(out, 'team_app_1.0.spdx.json'))).equals(files.spdx));
  assert.ok((await readFile(join(out, 'team_app_1.0.cdx.json'))).equals(files.cdx));
  assert.ok((await readFile(join(out, 'team_multi_2.spdx.json'))).equals(files.spdx));
});

async function craneJson(ref: string): Promise<Record<string, unknown>> {
  const r = await crane(['manifest', '--insecure', ref], ref);
  assert.is(r.code, 0, `crane manifest ${ref}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('(b) pushed into a second registry, crane reads each referrer: by digest, from the sha256-<hex> fallback tag, subject, artifactType and layer bytes', async () => {
  const r = await loadCli(['push', join(tmp, 'sb'), '--trusted-key', pub(), '--to', `${b.host}/mirror`, '--insecure-registry', b.host, '--state-dir', join(tmp, 'state'), '--yes', '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const [repo, tag] of [['team/app', '1.0'], ['team/multi', '2']] as const) {
    const ref = `${b.host}/mirror/${repo}`;
    // The digest the target holds under the tag, as crane computes it.
    const held = await craneDigest(`${ref}:${tag}`, { insecure: true });
    const mine = made.sboms.filter((s) => s.image === `${repo}:${tag}`);
    const fallback = await craneJson(`${ref}:sha256-${held.slice(7)}`);
    const listed = fallback.manifests as Array<{ digest: string; artifactType?: string }>;
    assert.equal(listed.map((d) => [d.digest, d.artifactType]).sort(), mine.map((s) => [s.referrer, s.mediaType]).sort(), `${repo}: the fallback index lists each referrer with its artifactType`);
    for (const s of mine) {
      const m = await craneJson(`${ref}@${s.referrer}`);
      assert.is(m.artifactType, s.mediaType);
      assert.equal(m.config, { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 });
      assert.is((m.subject as { digest: string }).digest, held, `${repo}: the subject is what the target holds under ${tag}`);
      const layers = m.layers as Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
      assert.is(layers.length, 1);
      assert.is(layers[0]!.mediaType, s.mediaType);
      assert.is(layers[0]!.annotations['org.opencontainers.image.title'], s.file.split('/').pop());
      const blob = await crane(['blob', '--insecure', `${ref}@${layers[0]!.digest}`], ref);
      assert.is(blob.code, 0, blob.stderr);
      assert.is(blob.stdout, (s.mediaType === 'application/spdx+json' ? files.spdx : files.cdx).toString(), 'the layer is the file');
    }
  }
});

test('an SBOM the source already holds as the very same referrer is carried once', async () => {
  // Registry b now holds team/app:1.0 with Ferry's referrers: bundling from b finds them, and
  // attaching the same file again must not carry a second copy.
  const r = await create('from-b', ['--image', `${b.host}/mirror/team/app:1.0`, '--sbom-file', `mirror/team/app:1.0=${join(tmp, 'spdx.json')}`], b.host);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as CreateJson;
  assert.is(j.sboms.length, 1);
  assert.is(j.sboms[0]!.alreadyAtSource, true);
  assert.is(j.sboms[0]!.referrer, made.sboms[0]!.referrer);
  const m = JSON.parse(await readFile(join(tmp, 'from-b', 'from-b.manifest.json'), 'utf8')) as BundleManifest;
  const refs = m.images[0]!.referrers ?? [];
  assert.is(refs.filter((x) => x.digest === made.sboms[0]!.referrer).length, 1);
  assert.is(refs.length, 2, 'the two referrers b holds, nothing more');
});

test('(c) bad inputs: a clear message naming what, a distinct exit code, and no bundle', async () => {
  await writeFile(join(tmp, 'notes.txt'), 'not an SBOM\n');
  await writeFile(join(tmp, 'huge.json'), '');
  await truncate(join(tmp, 'huge.json'), (64 << 20) + 1);
  const image = ['--image', `${a.host}/team/app:1.0`];
  const cases: Array<{ name: string; args: string[]; code: number; re: RegExp }> = [
    { name: 'no-image', args: ['--sbom-file', `team/ap:1.0=${join(tmp, 'spdx.json')}`], code: 2, re: /--sbom-file team\/ap:1\.0=.*: no image of this bundle is team\/ap:1\.0 \(did you mean team\/app:1\.0\?\).*the images are: team\/app:1\.0/ },
    { name: 'format', args: ['--sbom-file', `team/app:1.0=${join(tmp, 'notes.txt')}`], code: 12, re: /the SBOM file .*notes\.txt is not an SBOM format Ferry recognises: .*Accepted: SPDX JSON/ },
    { name: 'big', args: ['--sbom-file', `team/app:1.0=${join(tmp, 'huge.json')}`], code: 12, re: /the SBOM file .*huge\.json is 67108865 bytes, too large: ferry-load reads an SBOM of at most 67108864 bytes/ },
    { name: 'missing', args: ['--sbom-file', `team/app:1.0=${join(tmp, 'absent.json')}`], code: 12, re: /the SBOM file .*absent\.json does not exist/ },
    { name: 'dir', args: ['--sbom-file', `team/app:1.0=${tmp}`], code: 12, re: /is a directory; give the SBOM file itself/ },
    { name: 'syntax', args: ['--sbom-file', join(tmp, 'spdx.json')], code: 2, re: /--sbom-file .*spdx\.json: give IMAGE=FILE/ },
  ];
  for (const c of cases) {
    const r = await bundleCli(['create', '--name', c.name, '--out', join(tmp, `bad-${c.name}`), '--key', key(), '--insecure-registry', a.host, ...image, ...c.args]);
    assert.is(r.code, c.code, `${c.name}: ${r.stderr}`);
    assert.match(r.stderr, c.re, c.name);
    const left = existsSync(join(tmp, `bad-${c.name}`)) ? await readdir(join(tmp, `bad-${c.name}`)) : [];
    assert.equal(left, [], `${c.name}: no bundle file written`);
  }
});

test.run();
