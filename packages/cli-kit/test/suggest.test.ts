import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closest, editDistance, unknownOptionsMessage } from '../src/suggest.js';

test('edit distance', () => {
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('trusted-key', 'tusted-key'), 1);
  assert.is(editDistance('push', 'psuh'), 1, 'a swapped pair is one typo');
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('same', 'same'), 0);
});

test('closest: only when near enough to be what was meant', () => {
  const known = ['trusted-key', 'image-key', 'json', 'yes', 'to'];
  assert.is(closest('tusted-key', known), 'trusted-key');
  assert.is(closest('jsn', known), 'json');
  assert.is(closest('image-keys', known), 'image-key');
  assert.is(closest('colour', known), undefined, 'nothing close');
  assert.is(closest('tp', known), 'to');
});

test('unknown options: each named with a suggestion, camel-cased duplicates dropped, stray positionals told apart', () => {
  const known = ['help', 'version', 'trusted-key', 'json', 'image-key'];
  const m = unknownOptionsMessage('Unknown arguments: tusted-key, tustedKey, jsn', known, ['verify', 'x', '--tusted-key', 'k', '--jsn']);
  assert.is(m, 'unknown options: --tusted-key (did you mean --trusted-key?), --jsn (did you mean --json?)');
  assert.is(unknownOptionsMessage('Unknown argument: y', known, ['verify', 'x', 'y']), 'unexpected argument: y');
  assert.is(unknownOptionsMessage('Unknown argument: imagekey', known, ['--imagekey=3']), 'unknown option: --imagekey (did you mean --image-key?)', '--opt=value is an option too');
  assert.is(unknownOptionsMessage('Not enough non-option arguments', known, []), undefined, 'other messages are left alone');
});

test.run();
