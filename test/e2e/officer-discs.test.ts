// The transfer officer with one disc of a multi-disc set, end to end: ferry-bundle create writes
// the volumes, plan-media says which go on which disc (every disc with NAME.sha256, its .sig, the
// manifest and its .sig), and each disc built from that plan checks alone with plain
// `sha256sum -c --ignore-missing` and with `ferry-load checksum --ignore-missing --trusted-key`
// (the verdict naming its volumes). A receipt is written for a FAIL, and for a list whose
// signature does not verify; `--key` still works as the old spelling of --trusted-key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';

let tmp = '';
const out = () => join(tmp, 'out');

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-officer-'));
  await mkdir(join(tmp, 'files'));
  for (const n of ['a', 'b', 'c', 'd']) await writeFile(join(tmp, 'files', `${n}.bin`), randomBytes(500_000));
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'other')])).code, 0);
  const c = await bundleCli(['create', '--name', 'set', '--out', out(), '--key', join(tmp, 'k.key'), '--file', 'files/*.bin', '--volume-size', '600KB', '--compression-level', '1'], { cwd: tmp });
  assert.is(c.code, 0, c.stderr);
  assert.match(c.stdout, /Each disc or stick carries set\.sha256, set\.sha256\.sig, set\.manifest\.json and set\.manifest\.json\.sig beside its volumes; "ferry-bundle plan-media/);
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Plan { discs: Array<{ disc: number; volumes: number[]; files: Array<{ file: string; size: number }> }>; everyDisc: Array<{ file: string }> }

test('plan-media: every disc gets the four small files beside its volumes, and each disc checks on its own', async () => {
  const r = await bundleCli(['plan-media', out(), '--media-size', '1.3MB', '--json']);
  assert.is(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as Plan;
  assert.equal(plan.everyDisc.map((f) => f.file), ['set.sha256', 'set.sha256.sig', 'set.manifest.json', 'set.manifest.json.sig']);
  assert.ok(plan.discs.length >= 2, `several discs: ${r.stdout}`);
  const all = plan.discs.flatMap((d) => d.volumes);
  assert.equal(all, [...all].sort((a, b) => a - b));
  const total = all.length;
  for (const d of plan.discs) {
    assert.equal(d.files.slice(0, 4).map((f) => f.file), plan.everyDisc.map((f) => f.file));
    const disc = join(tmp, `disc-${d.disc}`);
    await mkdir(disc);
    for (const f of d.files) await copyFile(join(out(), f.file), join(disc, f.file));
    const plain = await sh('sha256sum -c --ignore-missing set.sha256', disc);
    assert.is(plain.code, 0, plain.stdout + plain.stderr);
    const receipt = join(tmp, `disc-${d.disc}.receipt`);
    const f = await loadCli(['checksum', disc, '--ignore-missing', '--trusted-key', join(tmp, 'k.pub'), '--receipt', receipt]);
    assert.is(f.code, 0, f.stdout + f.stderr);
    const text = await readFile(receipt, 'utf8');
    assert.ok(text.includes(`RESULT: PASS for volume${d.volumes.length > 1 ? 's' : ''} ${d.volumes.join(',')} of ${total} —`), text);
    assert.match(text, /List signature: verified \(key sha256:[0-9a-f]{64}\)\nSigned by: .*k\.pub\n/);
    assert.ok(text.includes(`Host:      ${hostname()}`));
    const digest = createHash('sha256').update(await readFile(join(out(), 'set.sha256'))).digest('hex');
    assert.ok(text.includes(`List:      set.sha256 sha256:${digest}`));
    assert.match(text, /Checked:   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(UTC\)/);
    assert.match(text, /Ferry:     ferry-load \d+\.\d+\.\d+/);
  }
  const text = await bundleCli(['plan-media', join(out(), 'set.sha256'), '--media-size', '1.3MB']);
  assert.match(text.stdout, /Disc 1 of \d+ \(volume/);
  assert.match(text.stdout, /On each disc: ferry-load checksum --ignore-missing set\.sha256/);
  const small = await bundleCli(['plan-media', out(), '--media-size', '100KB']);
  assert.is(small.code, 2);
  assert.match(small.stderr, /does not fit on a medium of .* --volume-size/);
});

test('--volumes and --json; the whole set without --ignore-missing is MISSING for the other discs', async () => {
  const disc = join(tmp, 'disc-1');
  const j = await loadCli(['checksum', disc, '--volumes', '1', '--json']);
  assert.is(j.code, 0, j.stdout);
  const report = JSON.parse(j.stdout) as { ok: boolean; scope: { complete: boolean; checked: number[] }; listDigest: string; host: string; ferryVersion: string; checkedAt: string };
  assert.ok(report.ok);
  assert.equal(report.scope.checked, [1]);
  assert.is(report.scope.complete, false);
  assert.is(report.host, hostname());
  const whole = await loadCli(['checksum', disc]);
  assert.is(whole.code, 8, 'the other volumes are missing');
  assert.match(whole.stdout, /RESULT: FAIL — /);
});

test('a receipt for a FAIL, and for a list that does not verify; --key is the old spelling of --trusted-key', async () => {
  const disc = join(tmp, 'tampered');
  await mkdir(disc);
  for (const f of ['set.sha256', 'set.sha256.sig', 'set.manifest.json', 'set.manifest.json.sig', 'set-001.tar.zst']) await copyFile(join(out(), f), join(disc, f));
  const buf = await readFile(join(disc, 'set-001.tar.zst'));
  buf[buf.length >> 1] ^= 0xff;
  await writeFile(join(disc, 'set-001.tar.zst'), buf);
  const receipt = join(tmp, 'fail.receipt');
  const r = await loadCli(['checksum', disc, '--ignore-missing', '--key', join(tmp, 'k.pub'), '--receipt', receipt]);
  assert.is(r.code, 7, r.stdout + r.stderr);
  const text = await readFile(receipt, 'utf8');
  assert.match(text, /FAIL\s+set-001\.tar\.zst\s+expected sha256:/);
  assert.match(text, /RESULT: FAIL for volume 1 of \d+ —/);
  assert.match(text, /List signature: verified/);

  const untrusted = join(tmp, 'untrusted.receipt');
  const u = await loadCli(['checksum', disc, '--ignore-missing', '--trusted-key', join(tmp, 'other.pub'), '--receipt', untrusted]);
  assert.is(u.code, 6, u.stderr);
  assert.match(u.stderr, /SIGNATURE_INVALID/);
  const ut = await readFile(untrusted, 'utf8');
  assert.match(ut, /RESULT: FAIL — nothing could be checked: \[SIGNATURE_INVALID\]/);
  assert.match(ut, /List:      sha256:[0-9a-f]{64}/);
  assert.ok(ut.includes(`List signature: checked against ${join(tmp, 'other.pub')}`));
  const help = await loadCli(['checksum', '--help']);
  assert.match(help.stdout, /--trusted-key, --key/);
});

test.run();
