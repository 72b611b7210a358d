// Day zero with a real containerd: the cluster has no registry and no way upstream. A bundle made
// from a (then stopped) source registry is served by `ferry-load serve` over HTTPS; the node
// mirror files `ferry-load k8s --to SERVE` writes are used as containerd's certs.d (ctr
// --hosts-dir, as config_path makes a node read /etc/containerd/certs.d), with the CA line the
// operator's guide says to add; containerd pulls the image by its upstream name, gets the
// bundle's digests, and unpacks every layer. A tampered layer in the volumes makes the pull fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startServe, type Served } from '../helpers/serve.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout } from '../harness/seed.js';
import { makeCerts, type TestCerts } from '../harness/certs.js';
import { startContainerd, type StartedContainerd } from '../harness/containerd.js';

const PW = 'containerd-pw';
let tmp = '';
let src: StartedRegistry;
let ctrd: StartedContainerd;
let certs: TestCerts;
let app: WrittenImage;
let upstream = '';
const bundle = (): string => join(tmp, 'bundle');

const serve = (): Promise<Served> => startServe(bundle(), join(tmp, 'signer.pub'), ['--tls-cert', certs.certFile, '--tls-key', certs.keyFile]);

/** The certs.d tree ferry-load k8s writes for a mirror at `host`, plus the CA line docs/operator.md says to add. */
async function hostsDir(host: string, name: string): Promise<string> {
  const out = join(tmp, name);
  const k = await loadCli(['k8s', bundle(), '--trusted-key', join(tmp, 'signer.pub'), '--to', host, '--out', out]);
  assert.is(k.code, 0, k.stdout + k.stderr);
  const certsD = join(out, 'nodes', 'containerd', 'certs.d');
  const file = join(certsD, upstream, 'hosts.toml');
  const toml = await readFile(file, 'utf8');
  assert.match(toml, new RegExp(`\\[host\\."https://${host.replace(/[.]/g, '\\.')}"\\]`));
  await writeFile(file, toml.replace('  capabilities = ["pull", "resolve"]', `  capabilities = ["pull", "resolve"]\n  ca = "${certs.caFile}"`));
  return certsD;
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-containerd-'));
  [app] = (await makeOciLayout(join(tmp, 'layout'), [
    {
      tag: 'app',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 300_000, seed: 'ctrd-base' }, { size: 40_000, seed: 'ctrd-amd' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 300_000, seed: 'ctrd-base' }, { size: 40_000, seed: 'ctrd-arm' }] },
      ],
    },
  ])) as [WrittenImage];
  const k = await bundleCli(['keygen', '--out', join(tmp, 'signer')], { env: { FERRY_KEY_PASSWORD: PW } });
  assert.is(k.code, 0, k.stderr);
  [src, ctrd, certs] = await Promise.all([startRegistry(), startContainerd(), makeCerts(join(tmp, 'certs'))]);
  upstream = src.host;
  await seedLayout(src, join(tmp, 'layout'), 'app', 'team/app:1.0');
  const c = await bundleCli(['create', '--name', 'day0', '--out', bundle(), '--key', join(tmp, 'signer.key'), '--image', `${src.host}/team/app:1.0`, '--insecure-registry', src.host, '--volume-size', '256KiB'], { env: { FERRY_KEY_PASSWORD: PW, HOME: tmp } });
  assert.is(c.code, 0, c.stdout + c.stderr);
  // From here on there is no upstream: whatever containerd gets comes from the bundle.
  await src.stop();
});

test.after(async () => {
  await Promise.all([src?.stop(), ctrd?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

test('containerd pulls the image by its upstream name through the mirror files, gets the bundle digests and unpacks it', async () => {
  const s = await serve();
  try {
    const certsD = await hostsDir(s.host, 'k8s');
    const ref = `${upstream}/team/app:1.0`;
    const pull = await ctrd.ctr(['images', 'pull', '--hosts-dir', certsD, '--snapshotter', 'native', '--platform', 'linux/amd64', ref]);
    assert.is(pull.code, 0, pull.stdout + pull.stderr + ctrd.log());
    const ls = await ctrd.ctr(['images', 'ls']);
    assert.match(ls.stdout, new RegExp(`${ref.replace(/[.]/g, '\\.')}\\s+\\S+\\s+${app.root.digest}`), ls.stdout);
    const content = await ctrd.ctr(['content', 'ls', '-q']);
    for (const l of app.layers[0]!) assert.ok(content.stdout.includes(l.digest), `layer ${l.digest} fetched`);
    assert.ok(content.stdout.includes(app.manifests[0]!.digest));
    const snaps = await ctrd.ctr(['snapshots', '--snapshotter', 'native', 'ls']);
    assert.is(snaps.stdout.trim().split('\n').length - 1, 2, `both layers unpacked:\n${snaps.stdout}`);
  } finally {
    assert.is(await s.stop(), 0);
  }
});

test('a tampered layer in the volumes: serve refuses at start or containerd gets no image', async () => {
  // Flip one byte inside the amd64 layer as stored in its volume (stored frames keep it verbatim).
  const files = (await import('node:fs/promises')).readdir;
  const vols = (await files(bundle())).filter((f) => f.endsWith('.tar.zst')).sort();
  const target = app.layers[0]![1]!;
  let flipped = false;
  for (const v of vols) {
    const p = join(bundle(), v);
    const buf = await readFile(p);
    const marker = Buffer.from(`blobs/sha256/${target.digest.slice(7)}`);
    const at = buf.indexOf(marker);
    if (at < 0) continue;
    buf[at + 512 + 4096] ^= 0xff; // past the tar header, inside the content
    await writeFile(p, buf);
    flipped = true;
  }
  assert.ok(flipped, 'the layer was found in a volume');
  await mkdir(join(tmp, 'k8s2'), { recursive: true });
  let s: Served | undefined;
  try {
    s = await serve();
  } catch (e) {
    // Refused at start (the damage was seen while indexing): nothing was served.
    assert.match((e as Error).message, /serve exited (9|10) /);
    return;
  }
  try {
    const certsD = await hostsDir(s.host, 'k8s2');
    const rmi = await ctrd.ctr(['images', 'rm', '--sync', `${upstream}/team/app:1.0`]);
    assert.is(rmi.code, 0, rmi.stderr);
    const left = await ctrd.ctr(['content', 'ls', '-q']);
    assert.not.ok(left.stdout.includes(target.digest), `containerd dropped the layer it had: ${left.stdout}`);
    const pull = await ctrd.ctr(['images', 'pull', '--hosts-dir', certsD, '--snapshotter', 'native', '--platform', 'linux/amd64', `${upstream}/team/app:1.0`]);
    assert.is.not(pull.code, 0, 'the pull must fail');
    // Whether containerd saw the cut-off stream or, retrying, the 500 that follows it, serve's
    // log says which blob was damaged.
    for (let i = 0; i < 50 && !/damaged/.test(s.log()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(s.log(), new RegExp(`${target.digest}.*damaged|damaged.*${target.digest}`));
    const content = await ctrd.ctr(['content', 'ls', '-q']);
    assert.not.ok(content.stdout.includes(target.digest), 'the bad layer is not in containerd');
  } finally {
    await s.stop();
  }
});

test.run();
