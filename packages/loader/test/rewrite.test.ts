import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError } from '@ferry/format-spec';
import { applyRewrites, parseRewrite, rulesForTarget, sourceRegistry } from '../src/rewrite.js';

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

test("the seed's sed rule: a FROM with the source registry host, a TO naming the --to host", () => {
  const rules = rulesForTarget([parseRewrite('gcr.io/cleanstart=private.registry.local/cleanstart')], 'private.registry.local');
  assert.equal(rules, [{ from: 'gcr.io/cleanstart', to: 'cleanstart' }]);
  assert.is(applyRewrites('cleanstart/python', rules, sourceRegistry('gcr.io/cleanstart/python:3.11-prod')), 'cleanstart/python');
  const mirror = [parseRewrite('gcr.io/cleanstart=mirror/cs')];
  assert.is(applyRewrites('cleanstart/python', mirror, 'gcr.io'), 'mirror/cs/python');
  assert.is(applyRewrites('cleanstart/python', mirror, 'quay.io'), 'cleanstart/python', 'another source registry: no match');
  assert.is(applyRewrites('cleanstart/python', mirror, undefined), 'cleanstart/python', 'a local source has no registry');
  assert.is(sourceRegistry('docker://nginx:1.25'), 'docker.io');
  assert.is(applyRewrites('library/nginx', [parseRewrite('docker.io/library=hub')], sourceRegistry('nginx:1.25')), 'hub/nginx', 'Docker Hub library/ is part of the path');
  assert.is(sourceRegistry('oci:./layout:app'), undefined);
  assert.throws(() => rulesForTarget([parseRewrite('team=other.registry.io/team')], 'registry.local:5000'), (e: unknown) => isFerryError(e, 'USAGE'), 'TO may not name another registry');
  assert.equal(rulesForTarget([parseRewrite('gcr.io/cleanstart=registry.local:5000/cleanstart')], 'registry.local:5000'), [{ from: 'gcr.io/cleanstart', to: 'cleanstart' }], 'a TO with the --to host and port');
  for (const bad of ['a=host:5000/UPPER', 'a=ho st:5000/x', 'a=host:99999999/x']) assert.throws(() => parseRewrite(bad), (e: unknown) => isFerryError(e, 'USAGE'), bad);
});

test.run();
