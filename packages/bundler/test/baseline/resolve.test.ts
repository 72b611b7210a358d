// resolveBaselines: paths, `last` and --since over the state directory's kept manifests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBaselines } from '../../src/baseline/resolve.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';
import { bytesOf, full } from './fixtures.js';

let dir = '';
let state = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-baseline-resolve-'));
  state = join(dir, 'state');
  await mkdir(join(state, 'manifests'), { recursive: true });
  // File names sort in another order than the dates: `last` goes by `created`.
  await writeFile(join(state, 'manifests', 'a-newest.manifest.json'), bytesOf(full('newest', '2026-11-29T00:00:00Z')));
  await writeFile(join(state, 'manifests', 'b-oldest.manifest.json'), bytesOf(full('oldest', '2026-11-15T00:00:00Z')));
  await writeFile(join(state, 'manifests', 'c-middle.manifest.json'), bytesOf(full('middle', '2026-11-22T00:00:00Z')));
  await writeFile(join(state, 'manifests', 'notes.txt'), 'not a manifest');
  await writeFile(join(dir, 'given.manifest.json'), bytesOf(full('given')));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('last is the newest kept manifest by its created date', async () => {
  const [b] = await resolveBaselines({ specs: ['last'], stateDir: state });
  assert.is(b!.name, 'newest');
});

test('--since: every kept manifest created at or after the date, with the paths given', async () => {
  const bs = await resolveBaselines({ specs: [join(dir, 'given.manifest.json')], since: new Date('2026-11-22T00:00:00Z'), stateDir: state });
  assert.equal(bs.map((b) => b.name).sort(), ['given', 'middle', 'newest']);
  await rejectsCode(resolveBaselines({ specs: [], since: new Date('2027-01-01'), stateDir: state }), 'BASELINE_INVALID', /no bundle recorded .* was created at or after/);
});

test('the same file given twice (or also found as last) is one baseline', async () => {
  const bs = await resolveBaselines({ specs: ['last', join(state, 'manifests', 'a-newest.manifest.json'), 'last'], stateDir: state });
  assert.is(bs.length, 1);
});

test('last or --since without a state dir is a usage error; an empty state dir has no last', async () => {
  await rejectsCode(resolveBaselines({ specs: ['last'] }), 'USAGE', /needs --state-dir/);
  await rejectsCode(resolveBaselines({ specs: [], since: new Date() }), 'USAGE', /needs --state-dir/);
  await rejectsCode(resolveBaselines({ specs: ['last'], stateDir: join(dir, 'empty') }), 'BASELINE_INVALID', /no earlier bundle is recorded/);
});

test('a broken manifest in the state dir is named, not skipped', async () => {
  const s = join(dir, 'state-broken');
  await mkdir(join(s, 'manifests'), { recursive: true });
  await writeFile(join(s, 'manifests', 'x.manifest.json'), '{"mediaType":"application/vnd.ferry.bundle.manifest.v1+json"}');
  await rejectsCode(resolveBaselines({ specs: ['last'], stateDir: s }), 'BASELINE_INVALID', /x\.manifest\.json/);
});

test.run();
