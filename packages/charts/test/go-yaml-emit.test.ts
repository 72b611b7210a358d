// go-yaml v2's emitter as `helm repo index` output needs it (the whole-index byte-for-byte
// checks against helm's own output are in repo-index-write.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatGoTime, goYamlKeyLess, goYamlMarshal } from '../src/go-yaml-emit.js';

test('go-yaml key order: letters by code point, digit runs as numbers', () => {
  const sorted = ['chart10', 'Zeta', 'chart2', 'alpha', '10', '9', '1.0', 'a10', 'a9', 'apiVersion', 'annotations', 'x2', 'x01'].sort((a, b) => (goYamlKeyLess(a, b) ? -1 : goYamlKeyLess(b, a) ? 1 : 0));
  assert.equal(sorted, ['1.0', '9', '10', 'Zeta', 'a9', 'a10', 'alpha', 'annotations', 'apiVersion', 'chart2', 'chart10', 'x01', 'x2']);
});

test('times as Go marshals them; empty collections in flow style; numbers as go-yaml writes them', () => {
  assert.is(formatGoTime(new Date('2024-01-02T03:04:05.120Z')), '2024-01-02T03:04:05.12Z');
  assert.is(formatGoTime(new Date('2024-01-02T03:04:05.000Z')), '2024-01-02T03:04:05Z');
  assert.is(goYamlMarshal({ b: [], a: {}, num: [1, 2.5, 1e21, 1000000, 0.000001, -0, true, null] }), 'a: {}\nb: []\nnum:\n- 1\n- 2.5\n- 1e+21\n- 1000000\n- 1e-06\n- 0\n- true\n- null\n');
  assert.is(goYamlMarshal({ n: 'no', y: 'yes', on: 'x' }), '"n": "no"\n"on": x\n"y": "yes"\n', 'YAML 1.1 booleans are quoted, keys too');
});

test.run();
