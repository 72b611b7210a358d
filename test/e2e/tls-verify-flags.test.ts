// skopeo's spellings work where its users type them: `--tls-verify=false` / `--src-tls-verify=false`
// on ferry-bundle create (the registries of the --image references), `--tls-verify=false` /
// `--dest-tls-verify=false` on ferry-load push (the --to registry), each for those hosts only;
// and `--platform all` keeps every platform. Against real plain-HTTP registries, where the
// default (TLS verified) must fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { seedLayout, skopeo } from '../harness/seed.js';

let tmp = '';
let src: StartedRegistry;
let dst: StartedRegistry;
const env = () => ({ HOME: join(tmp, 'home'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined, FERRY_REGISTRY_CREDS: undefined, FERRY_KEY_PASSWORD: '' });

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-tlsflags-'));
  await mkdir(join(tmp, 'home'));
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  const layout = join(tmp, 'layout');
  await makeOciLayout(layout, [{ tag: 'multi', platforms: [
    { os: 'linux', architecture: 'amd64', layers: [{ size: 1_000, seed: 'tls-a' }] },
    { os: 'linux', architecture: 'arm64', layers: [{ size: 1_000, seed: 'tls-b' }] },
  ] }]);
  await seedLayout(src, layout, 'multi', 'team/multi:1');
  const k = await bundleCli(['keygen', '--out', join(tmp, 'ferry')], { env: env() });
  assert.is(k.code, 0, k.stderr);
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const create = (out: string, extra: string[]) => bundleCli(['create', '--name', 'tls', '--out', join(tmp, out), '--key', join(tmp, 'ferry.key'), '--image', `${src.host}/team/multi:1`, ...extra, '--json'], { env: env() });

test('create: the default verifies TLS (a plain-HTTP registry fails); --tls-verify=false and --src-tls-verify=false reach it; --platform all keeps both platforms', async () => {
  const strict = await create('strict', []);
  assert.is(strict.code, 13, strict.stdout + strict.stderr);
  for (const [out, flag] of [['a', '--tls-verify=false'], ['b', '--src-tls-verify=false']] as const) {
    const r = await create(out, [flag, '--platform', 'all']);
    assert.is(r.code, 0, `${flag}: ${r.stdout}${r.stderr}`);
    const m = JSON.parse(await readFile(join(tmp, out, 'tls.manifest.json'), 'utf8')) as { images: Array<{ platforms: unknown[]; platformFilter: { mode: string } }> };
    assert.is(m.images[0]!.platforms.length, 2, '--platform all is every platform');
    assert.is(m.images[0]!.platformFilter.mode, 'all');
  }
});

test('push: --dest-tls-verify=false / --tls-verify=false name the --to registry only; without, a plain-HTTP target fails before anything is written', async () => {
  const base = ['push', join(tmp, 'a'), '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--state-dir', join(tmp, 'state'), '--yes', '--json'];
  const strict = await loadCli(base, { env: env() });
  assert.is(strict.code, 13, strict.stdout + strict.stderr);
  const ok = await loadCli([...base, '--dest-tls-verify=false'], { env: env() });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${dst.host}/team/multi:1`]);
  assert.ok(raw.length > 0);
  const again = await loadCli(['check', join(tmp, 'a'), '--trusted-key', join(tmp, 'ferry.pub'), '--to', dst.host, '--tls-verify=false'], { env: env() });
  assert.is(again.code, 0, again.stdout + again.stderr);
  const layout = await loadCli(['push', join(tmp, 'a'), '--trusted-key', join(tmp, 'ferry.pub'), '--to', `oci:${join(tmp, 'out')}`, '--tls-verify=false', '--yes'], { env: env() });
  assert.is(layout.code, 2, 'an OCI layout has no TLS to skip');
});

test.run();
