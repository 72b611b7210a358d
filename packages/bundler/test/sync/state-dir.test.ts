// The state directory against the real filesystem: ordering by creation time, atomic records,
// pruning to --keep, a foreign file refused rather than silently ignored, and the lock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockStateDir, pruneState, recordReport, recordedNames } from '../../src/sync/state-dir.js';
import { keepManifest, keptManifests } from '../../src/baseline/kept-manifests.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';
import { minimalManifestBytes } from './fixtures.js';

let dir = '';
test.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-state-'));
});
test.after.each(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function record(name: string, created: string): Promise<void> {
  await keepManifest(join(dir, 'state'), name, minimalManifestBytes(name, created));
}

test('manifests come back oldest first by created, not by name', async () => {
  await record('b-week', '2026-11-29T03:00:00.000Z');
  await record('a-week', '2026-12-06T03:00:00.000Z');
  await record('c-week', '2026-11-22T03:00:00.000Z');
  assert.equal((await keptManifests(join(dir, 'state'))).map((m) => m.name), ['c-week', 'b-week', 'a-week']);
});

test('pruneState keeps the newest N manifests and their reports, and says what it removed', async () => {
  const state = join(dir, 'state');
  for (const [i, day] of ['01', '08', '15', '22'].entries()) {
    await record(`w${i}`, `2026-11-${day}T03:00:00.000Z`);
    await mkdir(join(state, 'reports'), { recursive: true });
    await recordReport(state, `w${i}`, '{}\n');
  }
  assert.equal(await pruneState(state, 2), ['w0', 'w1']);
  assert.equal((await readdir(join(state, 'manifests'))).sort(), ['w2.manifest.json', 'w3.manifest.json']);
  assert.equal((await readdir(join(state, 'reports'))).sort(), ['w2.sync.json', 'w3.sync.json']);
  assert.equal([...(await recordedNames(state))].sort(), ['w2', 'w3']);
});

test('a file in manifests/ that is not a Ferry manifest is refused, not skipped', async () => {
  await record('good', '2026-11-29T03:00:00.000Z');
  await writeFile(join(dir, 'state', 'manifests', 'evil.manifest.json'), '{"images":[]}');
  await rejectsCode(keptManifests(join(dir, 'state')), 'BASELINE_INVALID');
});

test('two runs on one state directory: the second is refused while the first holds the lock', async () => {
  const state = join(dir, 'state');
  const first = await lockStateDir(state);
  await rejectsCode(lockStateDir(state), 'TARGET_BUSY');
  await first.release();
  const again = await lockStateDir(state);
  await again.release();
});

test.run();
