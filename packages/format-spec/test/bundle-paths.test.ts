import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isFerryError } from '../src/errors.js';
import { bundlePathProblem, containedPath, findPathConflict } from '../src/bundle-paths.js';
import { SCHEMAS_DIR } from '../src/schema.js';

const schema = JSON.parse(readFileSync(`${SCHEMAS_DIR}bundle-manifest.schema.json`, 'utf8')) as { $defs: { relPath: { pattern: string; maxLength: number } } };
// ajv compiles schema patterns with the u flag.
const relPath = new RegExp(schema.$defs.relPath.pattern, 'u');
const schemaAccepts = (p: string): boolean => p.length <= schema.$defs.relPath.maxLength && relPath.test(p);

const GOOD = ['a', 'a/b', 'docs/x.txt', 'keys/cosign.pub', '..a', '...', 'a..', '.hidden', 'x/.ferry', '.ferryx/a', 'ferry/x', 'é/ü/日本', 'a'.repeat(255), `${'a'.repeat(255)}/${'b'.repeat(255)}`, 'a b', "it's", Array.from({ length: 5 }, () => 'x'.repeat(204)).join('/')];

/** Every kind of bad path, with what the refusal must say. */
const BAD: Array<[string, RegExp]> = [
  ['', /empty/],
  ['x\n/../../../etc/cron.d/x', /control character/],
  ['x\r/../../y', /control character/],
  ['x\u2028/../y', /control character or line separator/],
  ['x\u2029', /line separator/],
  ['x\u001b[31m', /control character/],
  ['a\tb', /control character/],
  ['a\u0000b', /control character/],
  ['a\u007fb', /control character/],
  ['a\u0085b', /control character/],
  ['a\u009bb', /control character/],
  ['a\\b', /backslash/],
  ['..\\x', /backslash/],
  ['/etc/passwd', /absolute/],
  ['/', /absolute/],
  ['a/', /ends with a slash/],
  ['keys/', /ends with a slash/],
  ['a//b', /double slash/],
  ['.', /'\.' segment/],
  ['..', /'\.\.' segment/],
  ['../x', /'\.\.' segment/],
  ['a/../b', /'\.\.' segment/],
  ['a/..', /'\.\.' segment/],
  ['a/./b', /'\.' segment/],
  ['./a', /'\.' segment/],
  ['a'.repeat(256), /segment of 256 bytes/],
  [`ok/${'s'.repeat(300)}`, /segment of 300 bytes/],
  ['.ferry', /reserved/],
  ['.ferry/state.json', /reserved/],
  ['.FERRY/x', /reserved/],
  ['.Ferry/x', /reserved/],
  ['a\ud800b', /lone surrogate/],
  ['x'.repeat(1025), /1025 bytes long/],
];

test('bundlePathProblem accepts ordinary relative paths', () => {
  for (const p of GOOD) assert.is(bundlePathProblem(p), null, JSON.stringify(p).slice(0, 40));
});

test('bundlePathProblem refuses every kind of bad path, saying why', () => {
  for (const [p, why] of BAD) {
    const problem = bundlePathProblem(p);
    assert.ok(problem !== null, `${JSON.stringify(p).slice(0, 40)} accepted`);
    assert.match(problem!, why, JSON.stringify(p).slice(0, 40));
  }
});

test('byte limits count UTF-8 bytes, not characters', () => {
  assert.is(bundlePathProblem('é'.repeat(127)), null); // 254 bytes
  assert.match(bundlePathProblem('é'.repeat(128))!, /segment of 256 bytes, more than 255/); // 128 characters
  assert.is(bundlePathProblem(Array.from({ length: 4 }, () => '日'.repeat(85)).join('/')), null); // 4 × 255 + 3 bytes = 1023
  assert.is(bundlePathProblem(Array.from({ length: 5 }, () => '日'.repeat(68)).join('/')), null); // 5 × 204 + 4 = 1024 bytes
  assert.match(bundlePathProblem(`x${Array.from({ length: 5 }, () => '日'.repeat(68)).join('/')}`)!, /1025 bytes long, more than 1024/); // 680 characters
});

test("the schema's relPath pattern agrees with bundlePathProblem (but for UTF-8 byte counts, code only)", () => {
  for (const p of GOOD) assert.ok(schemaAccepts(p), `schema refuses ${JSON.stringify(p).slice(0, 40)}`);
  for (const [p] of BAD) {
    const bytesOnly = /bytes/.test(bundlePathProblem(p) ?? '') && Buffer.byteLength(p) !== p.length;
    if (!bytesOnly) assert.not.ok(schemaAccepts(p), `schema accepts ${JSON.stringify(p).slice(0, 40)}`);
  }
  // What only code can say: 128 two-byte characters fit the pattern's 255-character segment.
  assert.ok(schemaAccepts('é'.repeat(128)));
  assert.ok(bundlePathProblem('é'.repeat(128)) !== null);
});

test('findPathConflict: the same path twice, or a file that would have to be a directory', () => {
  assert.is(findPathConflict([]), undefined);
  assert.is(findPathConflict(['a/b', 'a/c', 'ab', 'a-b', 'b']), undefined);
  const same = findPathConflict(['x', 'docs/a', 'docs/a']);
  assert.equal([same?.first, same?.second], ['docs/a', 'docs/a']);
  assert.match(same!.why, /"docs\/a" is carried twice/);
  const cases: Array<[string[], string, string]> = [
    [['keys', 'keys/cosign.pub'], 'keys', 'keys/cosign.pub'],
    [['keys/cosign.pub', 'keys'], 'keys', 'keys/cosign.pub'],
    [['p', 'p/q'], 'p', 'p/q'],
    [['p/q/r', 'x', 'p'], 'p', 'p/q/r'],
    [['a/b/c', 'a/b'], 'a/b', 'a/b/c'],
    // In plain string order "a-b" sorts between "a" and "a/c"; neighbours alone would miss it.
    [['a', 'a-b', 'a/c'], 'a', 'a/c'],
    [['a/c', 'a.b', 'a', 'a-b', 'a0'], 'a', 'a/c'],
  ];
  for (const [paths, first, second] of cases) {
    const c = findPathConflict(paths);
    assert.equal([c?.first, c?.second], [first, second], paths.join(' '));
    assert.match(c!.why, new RegExp(`"${first}" would have to be both a file and the directory holding "${second.replace(/\./g, '\\.')}"`));
  }
  // Escaped in the message.
  assert.match(findPathConflict(['a\u001b', 'a\u001b/b'])!.why, /a\\x1b/);
});

test('findPathConflict is O(n log n): 200 000 paths in well under a second', () => {
  const paths: string[] = [];
  for (let i = 0; i < 200_000; i++) paths.push(`dir${i % 1000}/sub${Math.floor(i / 1000)}/file-${i}.txt`);
  let t = Date.now();
  assert.is(findPathConflict(paths), undefined);
  assert.ok(Date.now() - t < 2000, `${Date.now() - t} ms`);
  paths.push('dir7/sub3');
  t = Date.now();
  assert.equal(findPathConflict(paths)?.first, 'dir7/sub3');
  assert.ok(Date.now() - t < 2000, `${Date.now() - t} ms`);
});

test('containedPath joins a good path under the root and refuses anything else as ARCHIVE_HOSTILE', () => {
  const root = '/srv/target-files';
  assert.is(containedPath(root, 'docs/a.txt'), join(root, 'docs/a.txt'));
  assert.is(containedPath(`${root}/`, 'a'), join(root, 'a'));
  assert.is(containedPath('relative/dir', 'a'), resolve('relative/dir', 'a'));
  assert.is(containedPath('/', 'etc'), '/etc');
  for (const [rel, shown] of [
    ['x\n/../../../etc/cron.d/x', /"x\\x0a\/\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x"/],
    ['../escape', /"\.\.\/escape"/],
    ['/etc/passwd', /"\/etc\/passwd"/],
    ['.ferry/lock', /"\.ferry\/lock"/],
    ['a\u2028b', /"a\\u\{2028\}b"/],
    ['', /""/],
  ] as const) {
    assert.throws(
      () => containedPath(root, rel),
      (e: unknown) => isFerryError(e, 'ARCHIVE_HOSTILE') && shown.test((e as Error).message) && !/[\n\u2028]/.test((e as Error).message),
      JSON.stringify(rel),
    );
  }
});

test.run();
