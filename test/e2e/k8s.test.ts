// ferry-load k8s end to end: a bundle made from a real registry (docker-registry seeded by
// skopeo, one image cosign-signed) plus a layout image; `ferry-load k8s` with
// `--to registry.local:5000/mirror` and a rewrite names exactly what push's mapping (mapNames)
// names; then the same bundle pushed into a second real registry, and every route the generated
// files describe (registries.conf prefixes, containerd mirror URLs, policy references) is followed
// in that registry to the bundled digest. Files under --out: written, unchanged on a re-run,
// refused when changed (exit 2, nothing written), replaced with --force.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { BundleManifest } from '@ferry/format-spec';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { assertReport } from '../helpers/report-schemas.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { generateSigningKey, seedLayout, writeCosignSignature } from '../harness/seed.js';
import { mapNames } from '../../packages/loader/src/push/names.js';
import { parseRegistryTarget } from '../../packages/loader/src/push/target.js';
import { parseRewrite } from '../../packages/loader/src/rewrite.js';
import { parseToml } from '../../packages/loader/test/k8s/tools.js';

let tmp = '';
let src: StartedRegistry;
let dst: StartedRegistry;
let bundle = '';
let manifest: BundleManifest;
let appDigest = '';
const REWRITE = 'team=platform';

type Obj = Record<string, any>;

function env(): Record<string, string | undefined> {
  return { HOME: tmp, REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, XDG_RUNTIME_DIR: undefined, XDG_CONFIG_HOME: undefined, FERRY_REGISTRY_CREDS: undefined };
}

const k8s = (args: string[]) => loadCli(['k8s', bundle, '--trusted-key', join(tmp, 'k.pub'), ...args], { env: env() });

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-k8s-e2e-'));
  src = await startRegistry();
  dst = await startRegistry();
  await makeOciLayout(join(tmp, 'layout'), [
    { tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: 'k8s-app' }] }] },
    { tag: 'web', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: 'k8s-web' }] }] },
    { tag: 'lib', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_000, seed: 'k8s-lib' }] }] },
  ]);
  ({ digest: appDigest } = await seedLayout(src, join(tmp, 'layout'), 'app', 'team/app:1'));
  await seedLayout(src, join(tmp, 'layout'), 'web', 'team/web:2');
  await seedLayout(src, join(tmp, 'layout'), 'lib', 'other/lib:3');
  const signer = generateSigningKey();
  await writeCosignSignature(src.url, 'team/app', appDigest, signer.privatePem, `${src.host}/team/app`);
  await writeFile(join(tmp, 'cosign.pub'), signer.publicPem);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')], { env: env() })).code, 0);
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', '--name', 'k8s-e2e', '--out', bundle, '--key', join(tmp, 'k.key'), '--insecure-registry', src.host,
    '--image', `${src.host}/team/app:1`, '--image', `${src.host}/team/web:2`, '--image', `${src.host}/other/lib:3`, '--image', `oci:${join(tmp, 'layout')}:lib`], { env: env() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  manifest = JSON.parse(await readFile(join(bundle, 'k8s-e2e.manifest.json'), 'utf8')) as BundleManifest;
});

test.after(async () => {
  await src?.stop();
  await dst?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** Longest prefix on a component boundary, then replace (registries.conf). */
function viaRegistriesConf(conf: Obj, name: string): string | undefined {
  const hit = (conf.registry as Obj[]).filter((r) => name === r.prefix || name.startsWith(`${r.prefix}/`)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
  return hit ? hit.mirror[0].location + name.slice(hit.prefix.length) : undefined;
}

const sourceOf = (i: BundleManifest['images'][number]): string | undefined => (i.source.startsWith('oci:') ? undefined : i.source.replace(/:[^:/]+$/, ''));

test('--to registry.local:5000/mirror with a rewrite: every name in every file is the one push\'s mapping gives', async () => {
  const out = join(tmp, 'out1');
  const r = await k8s(['--to', 'registry.local:5000/mirror', '--rewrite', REWRITE, '--image-key', join(tmp, 'cosign.pub'), '--namespace', 'security', '--out', out, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const j = assertReport('k8s-report', r.stdout) as Obj;
  const { registry, prefix } = parseRegistryTarget('registry.local:5000/mirror');
  const names = mapNames({ kind: 'registry', description: 'registry.local:5000/mirror', registry, prefix, stateDir: join(tmp, 'state') }, manifest.images, [parseRewrite(REWRITE)]);
  assert.equal(j.images.map((i: Obj) => i.ref), names.refs);
  assert.equal(j.files.map((f: Obj) => [f.path, f.status]), [
    ['cosign-keys.yaml', 'written'],
    ['kyverno/cluster-policy.yaml', 'written'],
    ['policy-controller/cluster-image-policy.yaml', 'written'],
    [`nodes/containerd/certs.d/${src.host}/hosts.toml`, 'written'],
    ['nodes/containers/registries.conf.d/50-ferry-k8s-e2e.conf', 'written'],
    ['openshift/image-digest-mirror-set.yaml', 'written'],
    ['pull-secret.yaml.template', 'written'],
  ]);
  // policies: exactly the repositories push wrote
  const repos = [...new Set(names.repos.map((x) => `${registry}/${x}`))];
  const kyv = parseYaml(await readFile(join(out, 'kyverno/cluster-policy.yaml'), 'utf8')) as Obj;
  assert.equal(kyv.spec.rules[0].verifyImages[0].imageReferences, repos.flatMap((x) => [`${x}:*`, `${x}@*`]));
  const cip = parseYaml(await readFile(join(out, 'policy-controller/cluster-image-policy.yaml'), 'utf8')) as Obj;
  assert.equal(cip.spec.images.map((g: Obj) => g.glob), repos.map((x) => `${x}*`));
  // mirrors: each source name resolves to the name push gives it
  const t = await parseToml(join(out, 'nodes/containers/registries.conf.d/50-ferry-k8s-e2e.conf'));
  assert.ok(t.ok, t.ok ? '' : t.error);
  manifest.images.forEach((img, i) => {
    const s = sourceOf(img);
    if (s) assert.is(viaRegistriesConf((t as { value: Obj }).value, s), `${registry}/${names.repos[i]}`, s);
  });
  const hosts = await parseToml(join(out, `nodes/containerd/certs.d/${src.host}/hosts.toml`));
  assert.ok(hosts.ok);
  assert.equal((hosts as { value: Obj }).value, { server: `https://${src.host}`, host: { 'https://registry.local:5000/v2/mirror': { capabilities: ['pull', 'resolve'], override_path: true } } });
  // what cannot be mirrored or is unsigned is said
  assert.ok(j.notes.some((n: string) => n.startsWith('registry.local:5000/mirror/platform/app:1: containerd mirrors keep the source path')), j.notes.join('\n'));
  assert.ok(j.notes.some((n: string) => n.startsWith('registry.local:5000/mirror/layout:lib: bundled from a layout')), j.notes.join('\n'));
  assert.ok(j.notes.some((n: string) => n.startsWith('registry.local:5000/mirror/platform/web:2: the bundle carries no cosign signature tag')));
  assert.not.ok(j.notes.some((n: string) => n.startsWith('registry.local:5000/mirror/platform/app:1: the bundle carries no cosign')), 'app is signed');
  const cm = parseYaml(await readFile(join(out, 'cosign-keys.yaml'), 'utf8')) as Obj;
  assert.is(cm.data['cosign.pub'], await readFile(join(tmp, 'cosign.pub'), 'utf8'));
});

test('the same bundle pushed into a real registry: every generated route leads to the bundled digest there', async () => {
  const to = `${dst.host}/mirror`;
  const p = await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', to, '--rewrite', REWRITE, '--insecure-registry', dst.host, '--state-dir', join(tmp, 'state'), '--yes', '--json'], { env: env() });
  assert.is(p.code, 0, p.stdout + p.stderr);
  const out = join(tmp, 'out2');
  const r = await k8s(['--to', to, '--rewrite', REWRITE, '--image-key', join(tmp, 'cosign.pub'), '--out', out]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /written +cosign-keys\.yaml/);
  const digestAt = async (ref: string): Promise<string> => {
    const s = await sh(`skopeo inspect --raw --tls-verify=false docker://${ref}`);
    assert.is(s.code, 0, `${ref}: ${s.stderr}`);
    return 'sha256:' + createHash('sha256').update(s.stdout).digest('hex');
  };
  const conf = (await parseToml(join(out, 'nodes/containers/registries.conf.d/50-ferry-k8s-e2e.conf'))) as { ok: true; value: Obj };
  for (const img of manifest.images) {
    const s = sourceOf(img);
    if (!s) continue;
    assert.is(await digestAt(`${viaRegistriesConf(conf.value, s)!}:${img.tag}`), img.digest, `registries.conf route for ${s}`);
  }
  // containerd: GET the manifest at the URL containerd builds from the mirror host (http: the test registry is plain)
  const hosts = (await parseToml(join(out, `nodes/containerd/certs.d/${src.host}/hosts.toml`))) as { ok: true; value: Obj };
  const [[url, h]] = Object.entries(hosts.value.host as Record<string, Obj>) as [[string, Obj]];
  assert.is(h.override_path, true);
  const lib = manifest.images.find((i) => i.source.endsWith('/other/lib:3'))!;
  const res = await fetch(`${url.replace(/^https:/, 'http:')}/other/lib/manifests/3`, { headers: { accept: lib.mediaType } });
  assert.is(res.status, 200);
  assert.is('sha256:' + createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), lib.digest);
  // policies: each referenced repository holds its image, and the signed one its .sig tag beside it (where Kyverno and policy-controller look)
  const kyv = parseYaml(await readFile(join(out, 'kyverno/cluster-policy.yaml'), 'utf8')) as Obj;
  const refs = (kyv.spec.rules[0].verifyImages[0].imageReferences as string[]).filter((x) => x.endsWith(':*')).map((x) => x.slice(0, -2));
  for (const img of manifest.images) {
    const repo = refs.find((x) => x.endsWith(`/${img.repository.replace(/^team\//, 'platform/')}`));
    assert.ok(repo, img.repository);
    assert.is(await digestAt(`${repo}:${img.tag}`), img.digest);
  }
  const app = refs.find((x) => x.endsWith('/platform/app'))!;
  const sig = await sh(`skopeo inspect --raw --tls-verify=false docker://${app}:sha256-${appDigest.slice(7)}.sig`);
  assert.is(sig.code, 0, sig.stderr);
});

test('re-run: unchanged; a file changed by hand: exit 2 and nothing written; --force replaces it', async () => {
  const out = join(tmp, 'out1');
  const args = ['--to', 'registry.local:5000/mirror', '--rewrite', REWRITE, '--image-key', join(tmp, 'cosign.pub'), '--namespace', 'security', '--out', out, '--json'];
  const again = await k8s(args);
  assert.is(again.code, 0, again.stderr);
  assert.ok((JSON.parse(again.stdout) as Obj).files.every((f: Obj) => f.status === 'unchanged'));
  const edited = join(out, 'kyverno/cluster-policy.yaml');
  await writeFile(edited, 'edited: true\n');
  const refused = await k8s(args);
  assert.is(refused.code, 2, refused.stdout);
  assert.match((JSON.parse(refused.stdout) as Obj).error.message, /other content \(kyverno\/cluster-policy\.yaml\)/);
  assert.is(await readFile(edited, 'utf8'), 'edited: true\n');
  const forced = await k8s([...args, '--force']);
  assert.is(forced.code, 0, forced.stderr);
  assert.equal((JSON.parse(forced.stdout) as Obj).files.filter((f: Obj) => f.status === 'replaced').map((f: Obj) => f.path), ['kyverno/cluster-policy.yaml']);
  // --config gives --to, --rewrite and the trusted key as for push; its `force` (about charts) is not taken
  const cfg = join(tmp, 'load.yaml');
  await writeFile(cfg, `trustedKeys: [${join(tmp, 'k.pub')}]\nto: registry.local:5000/mirror\nrewrite: ['${REWRITE}']\nforce: true\n`);
  const viaConfig = ['k8s', bundle, '--config', cfg, '--image-key', join(tmp, 'cosign.pub'), '--namespace', 'security', '--out', out, '--json'];
  const same = await loadCli(viaConfig, { env: env() });
  assert.is(same.code, 0, same.stdout + same.stderr);
  assert.ok((JSON.parse(same.stdout) as Obj).files.every((f: Obj) => f.status === 'unchanged'), 'the config names what the flags named');
  await writeFile(edited, 'edited again\n');
  assert.is((await loadCli(viaConfig, { env: env() })).code, 2, 'force: in the config does not replace files');
  assert.is((await loadCli([...viaConfig, '--force'], { env: env() })).code, 0);
});

test('stdout: one YAML stream of the Kubernetes documents; --json without --out carries each file; refusals', async () => {
  const r = await k8s(['--to', 'registry.local:5000/mirror', '--image-key', join(tmp, 'cosign.pub')]);
  assert.is(r.code, 0, r.stderr);
  const kinds = parseAllDocuments(r.stdout).map((d) => (d.toJS() as Obj | null)?.kind).filter(Boolean);
  assert.equal(kinds, ['ConfigMap', 'ClusterPolicy', 'ClusterImagePolicy', 'ImageDigestMirrorSet']);
  const j = await k8s(['--to', 'registry.local:5000/mirror', '--json']);
  assert.is(j.code, 0, j.stderr);
  const doc = assertReport('k8s-report', j.stdout) as Obj;
  assert.ok(doc.files.every((f: Obj) => typeof f.content === 'string'));
  assert.not.ok(doc.files.some((f: Obj) => f.kind === 'ConfigMap'), 'no --image-key, no ConfigMap');
  assert.ok(doc.notes.some((n: string) => /no --image-key/.test(n)));
  // refusals: an untrusted bundle, a layout target, --out inside the bundle, a private key as image key
  const untrusted = await loadCli(['k8s', bundle, '--to', 'registry.local:5000'], { env: env() });
  assert.is(untrusted.code, 6);
  assert.is((await k8s(['--to', `oci:${join(tmp, 'layout-target')}`])).code, 2);
  assert.is((await k8s(['--to', 'registry.local:5000', '--out', join(bundle, 'k8s')])).code, 2);
  assert.is((await k8s(['--to', 'registry.local:5000', '--image-key', join(tmp, 'k.key')])).code, 5);
  assert.is((await k8s(['--to', 'registry.local:5000', '--namespace', 'Not_A_Namespace'])).code, 2);
});

test.run();
