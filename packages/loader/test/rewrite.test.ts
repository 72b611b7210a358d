import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError } from '@ferry/format-spec';
import { applyRewrites, parseRewrite } from '../src/rewrite.js';

test('rules match whole leading path components; first match wins', () => {
  const rules = [parseRewrite('cleanstart=mirror/cleanstart'), parseRewrite('cleanstart/python=py')];
  assert.is(applyRewrites('cleanstart/python', rules), 'mirror/cleanstart/python');
  assert.is(applyRewrites('cleanstartx/python', rules), 'cleanstartx/python');
  assert.is(applyRewrites('cleanstart', rules), 'mirror/cleanstart');
  assert.is(applyRewrites('team/app', [parseRewrite('team=')]), 'app');
});

test('bad rules are usage errors', () => {
  for (const bad of ['nothing', '=x', 'a=UPPER']) assert.throws(() => parseRewrite(bad), (e: unknown) => isFerryError(e, 'USAGE'), bad);
});

test.run();
