// The re-signing helper itself: an unchanged re-signed bundle must pass every check, so the
// hostile tests built on it fail on what they change, not on a broken signature or layout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOciLayout } from './images.js';
import { bundleCli, loadCli } from './cli.js';
import { resignBundle } from './tamper.js';

let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-resign-'));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('a bundle re-signed without changes still checksums, verifies and loads', async () => {
  await makeOciLayout(join(tmp, 'src'), [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'r1', gzipLevel: 0 }] }] }]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  const d = join(tmp, 'b');
  const c = await bundleCli(['create', '--name', 'r', '--out', d, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:v1`, '--volume-size', '128KiB']);
  assert.is(c.code, 0, c.stderr);
  await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => { m.created = '2026-01-01T00:00:00Z'; } });
  const sums = await loadCli(['checksum', d, '--key', join(tmp, 'k.pub')]);
  assert.is(sums.code, 0, sums.stdout + sums.stderr);
  const v = await loadCli(['verify', d, '--trusted-key', join(tmp, 'k.pub')]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  const p = await loadCli(['push', d, '--trusted-key', join(tmp, 'k.pub'), '--to', `oci:${join(tmp, 'out')}`, '--yes']);
  assert.is(p.code, 0, p.stdout + p.stderr);
});

test.run();
