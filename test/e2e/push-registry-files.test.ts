// Carried files and keys when the target is a registry: a registry has no place for them, so
// without --files-dir they are listed as not written (the images still load, exit 0), and with
// --files-dir they land there, verified; a --files-dir inside the bundle is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';

let tmp = '';
let reg: StartedRegistry;
let bundle = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-reg-files-'));
  await makeOciLayout(join(tmp, 'src'), [{ tag: 'app', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 5_000, seed: 'rf-app' }] }] }]);
  await writeFile(join(tmp, 'runbook.txt'), 'load, then check\n');
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', '--name', 'rf', '--out', bundle, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:app`, '--file', join(tmp, 'runbook.txt'), '--public-key', join(tmp, 'k.pub')]);
  assert.is(r.code, 0, r.stderr);
  reg = await startRegistry();
});

test.after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const push = (extra: string[]) => loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', reg.host, '--insecure-registry', reg.host, '--state-dir', join(tmp, 'state'), '--yes', ...extra]);

test('without --files-dir: images load, files are listed as not written, exit 0', async () => {
  const r = await push(['--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout) as { complete: boolean; files: Array<{ path: string; status: string; reason?: string }>; images: Array<{ status: string }> };
  assert.ok(j.complete);
  assert.is(j.images[0]!.status, 'loaded');
  assert.ok(j.files.length >= 2);
  for (const f of j.files) {
    assert.is(f.status, 'skipped');
    assert.match(f.reason ?? '', /--files-dir/);
  }
  const text = await push([]);
  assert.is(text.code, 0);
  assert.match(text.stdout, /file\(s\) not written \(no --files-dir\)/);
  assert.match(text.stdout, /Not written \(a registry has no place for files; add --files-dir DIR\)/);
});

test('with --files-dir: the files land there with their content; inside the bundle is refused', async () => {
  const files = join(tmp, 'files');
  const r = await push(['--files-dir', files, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout) as { files: Array<{ path: string; status: string }> };
  for (const f of j.files) {
    assert.is(f.status, 'written');
    assert.ok(existsSync(join(files, f.path)), f.path);
  }
  const runbook = j.files.find((f) => f.path.endsWith('runbook.txt'))!;
  assert.is(await readFile(join(files, runbook.path), 'utf8'), 'load, then check\n');
  const inside = await push(['--files-dir', join(bundle, 'out')]);
  assert.is(inside.code, 2, inside.stderr);
  assert.match(inside.stderr, /overlaps the bundle directory/);
});

test.run();
