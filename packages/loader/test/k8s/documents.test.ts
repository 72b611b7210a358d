// Every file `ferry-load k8s` makes, read back by an independent reader: the built-in kinds by the
// real kubectl (`kubectl create --dry-run=client -f FILE`, against a discovery-only stub API server
// since kubectl maps kinds through discovery even for a dry run; --validate=false because schema
// validation needs a real server's OpenAPI document), the node files by Python's tomllib, and the
// CRD documents structurally against the fields of the schemas they target. For the mirrors and
// the policies, each bundled image is then resolved the way containerd, registries.conf,
// OpenShift, Kyverno and policy-controller match names, and must land where push put it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { keyFingerprint } from '@ferry/format-spec';
import { assemble, k8sStream, objectName, type K8sOutputs } from '../../src/k8s/index.js';
import { readImageKeys, type ImageKey } from '../../src/k8s/keys.js';
import { mapImages, type ImageMapping } from '../../src/k8s/mapping.js';
import { writeOutputs } from '../../src/k8s/output.js';
import { PLACEHOLDER_PASSWORD, PLACEHOLDER_USER } from '../../src/k8s/pull-secret.js';
import { parseRewrite } from '../../src/rewrite.js';
import { image, registryTarget } from './fixtures.js';
import { kubectl, kubectlCreateDryRun, parseToml, startKubeStub, yamlObjects, type KubeStub } from './tools.js';

let tmp = '';
let out = '';
let stub: KubeStub;
let crdStub: KubeStub;
let keys: ImageKey[];
let mapping: ImageMapping;
let made: Pick<K8sOutputs, 'keys' | 'images' | 'files' | 'notes'>;
const NAME = objectName('weekly');

const IMAGES = [
  image('gcr.io/cleanstart/python:3.11-prod', 'cleanstart/python', '3.11-prod', '1'),
  image('gcr.io/cleanstart/node:20-prod', 'cleanstart/node', '20-prod', '2'),
  image('gcr.io/base/debian:12', 'base/debian', '12', '3'),
  image('nginx:1.25', 'library/nginx', '1.25', '4'),
  image('oci:examples/demo:1.0', 'ferry/demo', '1.0', '5', false),
];

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-k8s-docs-'));
  out = join(tmp, 'out');
  for (const n of ['cosign.pub', 'next.pub']) await writeFile(join(tmp, n), generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
  keys = await readImageKeys([join(tmp, 'cosign.pub'), join(tmp, 'next.pub')]);
  mapping = mapImages(registryTarget('registry.local:5000/mirror'), IMAGES, [parseRewrite('gcr.io/cleanstart=platform')]);
  made = assemble(mapping, keys, 'weekly', NAME, 'security');
  await writeOutputs(out, made.files, { force: false });
  stub = await startKubeStub();
  crdStub = await startKubeStub({ crds: true });
});
test.after(async () => {
  await stub?.close();
  await crdStub?.close();
  await rm(tmp, { recursive: true, force: true });
});

const doc = async (path: string): Promise<Record<string, unknown>> => parseYaml(await readFile(join(out, path), 'utf8')) as Record<string, unknown>;
/** A parsed document, read field by field by the checks below. */
type Obj = Record<string, any>;

test('stable file names, one per output', () => {
  assert.equal(made.files.map((f) => f.path), [
    'cosign-keys.yaml',
    'kyverno/cluster-policy.yaml',
    'policy-controller/cluster-image-policy.yaml',
    'nodes/containerd/certs.d/docker.io/hosts.toml',
    'nodes/containerd/certs.d/gcr.io/hosts.toml',
    `nodes/containers/registries.conf.d/50-${NAME}.conf`,
    'openshift/image-digest-mirror-set.yaml',
    'pull-secret.yaml.template',
  ]);
});

test('kubectl create --dry-run=client -f cosign-keys.yaml: the ConfigMap kubectl would create is ours, key for key', async () => {
  const { r, objects } = await kubectlCreateDryRun(stub, join(out, 'cosign-keys.yaml'));
  assert.is(r.code, 0, r.stderr);
  assert.is(objects.length, 1);
  assert.equal(objects[0], await doc('cosign-keys.yaml'));
  const cm = objects[0] as Obj;
  assert.is(cm.kind, 'ConfigMap');
  assert.equal(cm.metadata, { creationTimestamp: null, name: 'cosign-keys', namespace: 'security' });
  assert.equal(Object.keys(cm.data), ['cosign.pub', 'next.pub']);
  assert.is(cm.data['cosign.pub'], await readFile(join(tmp, 'cosign.pub'), 'utf8'));
  // a namespace kubectl would be told elsewhere conflicts with ours: kubectl says so
  const clash = await kubectlCreateDryRun(stub, join(out, 'cosign-keys.yaml'), ['--namespace', 'other']);
  assert.is.not(clash.r.code, 0, 'kubectl refuses a file whose namespace differs from -n');
});

test('the pull secret template: kubectl reads it as a dockerconfigjson Secret; same shape as kubectl create secret docker-registry; placeholders only', async () => {
  const path = join(out, 'pull-secret.yaml.template');
  const text = await readFile(path, 'utf8');
  assert.match(text.split('\n')[0]!, /^# TEMPLATE, NOT A SECRET/);
  const { r, objects } = await kubectlCreateDryRun(stub, path);
  assert.is(r.code, 0, r.stderr);
  const s = objects[0] as Obj;
  assert.is(s.kind, 'Secret');
  assert.is(s.type, 'kubernetes.io/dockerconfigjson');
  assert.equal(s.metadata, { name: 'ferry-pull', namespace: 'security' });
  const ours = JSON.parse(s.stringData['.dockerconfigjson']) as { auths: Record<string, { username: string; password: string; auth?: string }> };
  assert.equal(ours, { auths: { 'registry.local:5000': { username: PLACEHOLDER_USER, password: PLACEHOLDER_PASSWORD } } });
  assert.is(s.data, undefined, 'nothing base64-encoded that could hide a value');
  // kubectl's own generator for the same server, decoded: the same auths key and fields
  const g = await kubectl(['create', 'secret', 'docker-registry', 'ferry-pull', '--docker-server=registry.local:5000', `--docker-username=${PLACEHOLDER_USER}`, `--docker-password=${PLACEHOLDER_PASSWORD}`, '--namespace', 'security', '--dry-run=client', '-o', 'yaml'], { home: stub.home });
  assert.is(g.code, 0, g.stderr);
  const gen = parseYaml(g.stdout) as Obj;
  assert.is(gen.type, s.type);
  assert.equal(gen.metadata.name, s.metadata.name);
  const theirs = JSON.parse(Buffer.from(gen.data['.dockerconfigjson'], 'base64').toString()) as typeof ours;
  assert.equal(Object.keys(theirs.auths), Object.keys(ours.auths));
  const { auth, ...fields } = theirs.auths['registry.local:5000']!;
  assert.equal(fields, ours.auths['registry.local:5000'], 'username and password where kubectl puts them');
  assert.ok(auth, 'kubectl adds auth; the template leaves it out so a stale one never overrides the edited fields');
});

test('kubectl create -f DIR (what kubectl apply -f DIR reads) takes the top-level YAML only: never the secret template, never a node file', async () => {
  const { r, objects } = await kubectlCreateDryRun(stub, out);
  assert.is(r.code, 0, r.stderr);
  assert.equal(objects.map((o) => `${o.kind}/${(o.metadata as Obj).name}`), ['ConfigMap/cosign-keys']);
});

test('the stdout stream: kubectl reads exactly the Kubernetes documents; the template and node files are comments', async () => {
  const o: K8sOutputs = { bundle: 'weekly', bundleDir: '/nonexistent', target: 'registry.local:5000/mirror', namespace: 'security', objectName: NAME, ...made };
  const stream = k8sStream(o);
  const file = join(tmp, 'stream.yaml');
  await writeFile(file, stream);
  assert.equal(yamlObjects(stream).map((d) => d.kind), ['ConfigMap', 'ClusterPolicy', 'ClusterImagePolicy', 'ImageDigestMirrorSet']);
  const { r, objects } = await kubectlCreateDryRun(crdStub, file);
  assert.is(r.code, 0, r.stderr);
  assert.equal(objects.map((x) => x.kind), ['ConfigMap', 'ClusterPolicy', 'ClusterImagePolicy', 'ImageDigestMirrorSet']);
  for (const f of made.files.filter((x) => x.apply)) {
    assert.equal(objects.find((x) => x.kind === f.kind), parseYaml(f.content), f.path);
  }
  assert.match(stream, /# ==> pull-secret\.yaml\.template <==/);
  assert.not.match(stream, /^kind: Secret/m);
  assert.match(stream, /^# server = "https:\/\/gcr\.io"$/m);
});

/** Kyverno's wildcard (ext/wildcard): `*` any run of characters, `/` included; `?` one. */
function kyvernoMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(s);
}

/** policy-controller's glob (pkg/apis/glob): the allowed characters, `*` within a component, `**` across. */
function policyControllerMatch(glob: string, s: string): boolean {
  assert.ok(/^[a-zA-Z0-9-_:/*.]+$/.test(glob), `policy-controller refuses the glob ${glob}`);
  const re = new RegExp(`^${glob.replace(/\./g, '\\.').replace(/\*\*/g, '#').replace(/\*/g, '[^/]*').replace(/#/g, '.*')}$`);
  return re.test(s);
}

test('Kyverno ClusterPolicy: kyverno.io/v1 verifyImages on exactly the loaded repositories, the trusted keys, enforced, offline', async () => {
  const p = (await doc('kyverno/cluster-policy.yaml')) as Obj;
  assert.is(p.apiVersion, 'kyverno.io/v1');
  assert.is(p.kind, 'ClusterPolicy');
  assert.is(p.metadata.name, NAME);
  assert.equal(p.spec.webhookConfiguration, { failurePolicy: 'Fail', timeoutSeconds: 30 });
  assert.is(p.spec.background, false);
  assert.is(p.spec.rules.length, 1);
  const rule = p.spec.rules[0];
  assert.equal(rule.match, { any: [{ resources: { kinds: ['Pod'] } }] });
  assert.is(rule.verifyImages.length, 1);
  const v = rule.verifyImages[0];
  assert.equal(Object.keys(v).sort(), ['attestors', 'failureAction', 'imageReferences', 'mutateDigest', 'required', 'type', 'verifyDigest']);
  assert.equal([v.type, v.failureAction, v.mutateDigest, v.verifyDigest, v.required], ['Cosign', 'Enforce', true, true, true]);
  for (const i of mapping.images) {
    assert.ok(v.imageReferences.some((pat: string) => kyvernoMatch(pat, i.ref)), `${i.ref} is covered`);
    assert.ok(v.imageReferences.some((pat: string) => kyvernoMatch(pat, `${i.target}@${i.digest}`)), `${i.target}@digest is covered`);
  }
  for (const other of ['registry.local:5000/mirror/platform/python-evil:1', 'registry.local:5000/other/x:1', 'gcr.io/cleanstart/python:3.11-prod']) {
    assert.not.ok(v.imageReferences.some((pat: string) => kyvernoMatch(pat, other)), `${other} is not claimed`);
  }
  assert.is(v.attestors.length, 1);
  assert.is(v.attestors[0].count, 1, 'any one trusted key suffices');
  const entries = v.attestors[0].entries as Obj[];
  assert.equal(entries.map((e) => keyFingerprint(createPublicKey(e.keys.publicKeys as string))), keys.flatMap((k) => k.keys.map((x) => x.fingerprint)));
  for (const e of entries) assert.equal(e.keys.rekor, { ignoreTlog: true, url: 'https://rekor.sigstore.dev' });
});

test('policy-controller ClusterImagePolicy: a glob per loaded repository it accepts, one key authority per key, no transparency log', async () => {
  const p = (await doc('policy-controller/cluster-image-policy.yaml')) as Obj;
  assert.is(p.apiVersion, 'policy.sigstore.dev/v1beta1');
  assert.is(p.kind, 'ClusterImagePolicy');
  assert.is(p.metadata.name, NAME);
  assert.equal(Object.keys(p.spec).sort(), ['authorities', 'images']);
  for (const i of mapping.images) {
    assert.ok(p.spec.images.some((g: Obj) => policyControllerMatch(g.glob, i.ref)), i.ref);
    assert.ok(p.spec.images.some((g: Obj) => policyControllerMatch(g.glob, `${i.target}@${i.digest}`)), `${i.target}@digest (what it checks after resolving the tag)`);
  }
  assert.not.ok(p.spec.images.some((g: Obj) => policyControllerMatch(g.glob, 'registry.local:5000/mirror/platform/python/sub:1')));
  assert.equal(p.spec.authorities.map((a: Obj) => a.name), ['key-1', 'key-2']);
  for (const a of p.spec.authorities as Obj[]) {
    assert.equal(Object.keys(a).sort(), ['key', 'name'], 'no ctlog: the tlog is not consulted');
    assert.is(a.key.hashAlgorithm, 'sha256');
    createPublicKey(a.key.data as string);
  }
});

/** Longest prefix on a component boundary, then replace: registries.conf and ImageDigestMirrorSet. */
function viaPrefixes(entries: Array<{ prefix: string; to: string }>, name: string): string | undefined {
  const hit = entries.filter((e) => name === e.prefix || name.startsWith(`${e.prefix}/`)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
  return hit ? hit.to + name.slice(hit.prefix.length) : undefined;
}

test('registries.conf (parsed by tomllib): every bundled source name is pulled from where push put it, the upstream tried last', async () => {
  const t = await parseToml(join(out, `nodes/containers/registries.conf.d/50-${NAME}.conf`));
  assert.ok(t.ok, t.ok ? '' : t.error);
  const conf = (t as { value: Obj }).value;
  assert.equal(Object.keys(conf), ['registry']);
  const entries = (conf.registry as Obj[]).map((r) => {
    assert.equal(Object.keys(r).sort(), ['location', 'mirror', 'prefix']);
    assert.is(r.location, r.prefix, 'the upstream stays the primary, tried after the mirror');
    assert.is(r.mirror.length, 1);
    assert.equal(Object.keys(r.mirror[0]), ['location']);
    return { prefix: r.prefix as string, to: r.mirror[0].location as string };
  });
  for (const i of mapping.images) {
    if (!i.source) continue;
    assert.is(viaPrefixes(entries, `${i.source.registry}/${i.source.repository}`), i.target, i.ref);
  }
  assert.ok(entries.some((e) => e.prefix === 'gcr.io/cleanstart' && e.to === 'registry.local:5000/mirror/platform'), 'the --rewrite rule as a prefix');
});

test('ImageDigestMirrorSet: config.openshift.io/v1, mirrors OpenShift accepts, the same resolution, never the source', async () => {
  const d = (await doc('openshift/image-digest-mirror-set.yaml')) as Obj;
  assert.is(d.apiVersion, 'config.openshift.io/v1');
  assert.is(d.kind, 'ImageDigestMirrorSet');
  assert.is(d.metadata.name, NAME);
  assert.is(d.metadata.namespace, undefined, 'cluster-scoped');
  // openshift/api ImageMirror pattern
  const mirrorRe = /^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?)(?:(?:\/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$/;
  const entries = (d.spec.imageDigestMirrors as Obj[]).map((e) => {
    assert.equal(Object.keys(e), ['source', 'mirrors', 'mirrorSourcePolicy']);
    assert.is(e.mirrorSourcePolicy, 'NeverContactSource');
    for (const m of e.mirrors as string[]) assert.ok(mirrorRe.test(m), m);
    assert.ok(mirrorRe.test(e.source), e.source);
    return { prefix: e.source as string, to: e.mirrors[0] as string };
  });
  for (const i of mapping.images) if (i.source) assert.is(viaPrefixes(entries, `${i.source.registry}/${i.source.repository}`), i.target, i.ref);
});

test('containerd hosts.toml (parsed by tomllib): the URL containerd builds for each image is the one push wrote', async () => {
  for (const host of ['gcr.io', 'docker.io']) {
    const t = await parseToml(join(out, `nodes/containerd/certs.d/${host}/hosts.toml`));
    assert.ok(t.ok, t.ok ? '' : t.error);
    const conf = (t as { value: Obj }).value;
    assert.is(conf.server, host === 'docker.io' ? 'https://registry-1.docker.io' : `https://${host}`);
    const hosts = Object.entries(conf.host as Record<string, Obj>);
    assert.ok(hosts.length >= 1);
    for (const [, h] of hosts) assert.equal(h.capabilities, ['pull', 'resolve']);
    // containerd: with override_path the host URL is the API root, else /v2 is appended; then /<source path>/manifests/<ref>
    const urlFor = (url: string, h: Obj, repo: string, ref: string): string => `${h.override_path === true ? url : `${url}/v2`}/${repo}/manifests/${ref}`;
    for (const i of mapping.images.filter((x) => x.source?.registry === host && made.images.find((y) => y.ref === x.ref)!.mirrored.containerd)) {
      const slash = i.target.indexOf('/');
      const want = `https://${i.target.slice(0, slash)}/v2/${i.target.slice(slash + 1)}/manifests/${i.tag}`;
      const [url, h] = hosts[0]!;
      assert.is(urlFor(url, h, i.source!.repository, i.tag!), want, i.ref);
    }
  }
  // the exact text of the simple one
  const text = await readFile(join(out, 'nodes/containerd/certs.d/gcr.io/hosts.toml'), 'utf8');
  assert.match(text, /\nserver = "https:\/\/gcr\.io"\n\n\[host\."https:\/\/registry\.local:5000\/v2\/mirror"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}override_path = true\n$/);
  // the renamed (rewritten) images are not reachable through containerd, and that is said
  assert.equal(made.images.filter((i) => !i.mirrored.containerd).map((i) => i.ref), [
    'registry.local:5000/mirror/platform/python:3.11-prod',
    'registry.local:5000/mirror/platform/node:20-prod',
    'registry.local:5000/mirror/ferry/demo:1.0',
  ]);
  assert.ok(made.notes.some((n) => n.startsWith('registry.local:5000/mirror/platform/python:3.11-prod: containerd mirrors keep the source path')));
});

test('a target without a prefix: the mirror host is the registry itself, no override_path', async () => {
  const m = mapImages(registryTarget('registry.local:5000'), IMAGES.slice(3, 4), []);
  const f = assemble(m, keys, 'w', 'ferry-w').files.find((x) => x.path.endsWith('docker.io/hosts.toml'))!;
  const file = join(tmp, 'plain.toml');
  await writeFile(file, f.content);
  const t = await parseToml(file);
  assert.ok(t.ok);
  assert.equal((t as { value: Obj }).value.host, { 'https://registry.local:5000': { capabilities: ['pull', 'resolve'] } });
});

test('without --image-key: no ConfigMap and no policies, and the notes say so; unsigned images are named when there are keys', () => {
  const none = assemble(mapping, [], 'weekly', NAME);
  assert.not.ok(none.files.some((f) => f.kind === 'ConfigMap' || f.kind === 'ClusterPolicy' || f.kind === 'ClusterImagePolicy'));
  assert.ok(none.notes.some((n) => /no --image-key/.test(n)));
  assert.ok(made.notes.some((n) => n.startsWith('registry.local:5000/mirror/ferry/demo:1.0: the bundle carries no cosign signature tag')));
  assert.not.ok(none.notes.some((n) => /no cosign signature tag/.test(n)));
});

test('object names: ferry-<bundle> when it is a DNS label, else cleaned with a hash so two bundles never share one', () => {
  assert.is(objectName('weekly'), 'ferry-weekly');
  assert.match(objectName('Weekly_2024.1'), /^ferry-weekly-2024-1-[0-9a-f]{8}$/);
  assert.is.not(objectName('Weekly'), objectName('weekly'));
  const long = objectName('x'.repeat(100));
  assert.ok(long.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(long), long);
});

test.run();
