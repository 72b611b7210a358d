// planDelta: which blobs a delta leaves out, and what it records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deltaSummary, planDelta } from '../src/delta-plan.js';
import type { Baseline } from '../src/baseline/types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const base = (name: string, blobs: Array<[string, number, string[]]>, digest = d('9')): Baseline => ({
  name, kind: 'bundle', digest, created: '2026-11-29T00:00:00Z',
  blobs: new Map(blobs.map(([dg, size, repositories]) => [dg, { size, repositories }])),
});
const blob = (c: string, size: number, kind: 'config' | 'layer' | 'manifest' | 'blob' | 'index') => ({ digest: d(c), size, mediaType: 'application/x', kind });

test('config, layer and blob content a baseline holds (same size) is required; manifests and always-carried digests are not', () => {
  const p = planDelta(
    [base('w1', [[d('a'), 10, ['team/app']], [d('b'), 20, []], [d('c'), 30, []], [d('m'), 5, []], [d('s'), 7, []], [d('x'), 99, []]])],
    [blob('a', 10, 'layer'), blob('b', 20, 'config'), blob('c', 31, 'layer'), blob('m', 5, 'manifest'), blob('s', 7, 'blob'), blob('n', 40, 'layer')],
    new Set([d('s')]),
  );
  assert.equal([...p.required.keys()], [d('a'), d('b')]);
  assert.equal(p.required.get(d('a')), { digest: d('a'), size: 10, mediaType: 'application/x', kind: 'layer', baseline: 'w1', repositories: ['team/app'] });
  assert.not.ok(p.required.has(d('c')), 'a size the baseline disagrees with is carried');
  assert.equal(p.baselines, [{ name: 'w1', kind: 'bundle', digest: d('9'), created: '2026-11-29T00:00:00Z' }]);
});

test('the first baseline given that holds a blob vouches for it; two baselines of one name are told apart', () => {
  const p = planDelta([base('w', [[d('a'), 1, []]], d('1')), base('w', [[d('a'), 1, []], [d('b'), 2, []]], d('2'))], [blob('a', 1, 'layer'), blob('b', 2, 'layer')], new Set());
  assert.equal(p.baselines.map((b) => b.name), [`w@${'1'.repeat(12)}`, `w@${'2'.repeat(12)}`]);
  assert.is(p.required.get(d('a'))!.baseline, `w@${'1'.repeat(12)}`);
  assert.is(p.required.get(d('b'))!.baseline, `w@${'2'.repeat(12)}`);
});

test('deltaSummary adds up carried, referenced and required bytes', () => {
  const p = planDelta([base('w1', [[d('a'), 10, []]])], [blob('a', 10, 'layer')], new Set());
  assert.equal(deltaSummary([{ size: 3 }, { size: 4 }], new Map([[d('a'), 10], [d('m'), 4]]), p.required), { carriedBytes: 7, referencedBytes: 14, requiredBytes: 10, requiredBlobs: 1 });
});

test.run();
