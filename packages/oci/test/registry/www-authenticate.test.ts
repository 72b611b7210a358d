import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseWwwAuthenticate, challengeScopes } from '../../src/registry/www-authenticate.js';
import { parseScope, mergeScopes, repositoryScope } from '../../src/registry/auth.js';

test('Docker Hub style bearer challenge with a comma inside the quoted scope', () => {
  const [c] = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"');
  assert.equal(c, { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } });
});

test('scheme and parameter names are case-insensitive; spaces around = and ,', () => {
  const [c] = parseWwwAuthenticate('BEARER Realm = "https://a/token" ,  Service="svc"');
  assert.is(c!.scheme, 'bearer');
  assert.equal(c!.params, { realm: 'https://a/token', service: 'svc' });
});

test('several scopes in one param, insufficient_scope error', () => {
  const [c] = parseWwwAuthenticate('Bearer realm="http://127.0.0.1:1/token",service="s",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"');
  assert.equal(challengeScopes(c!), ['repository:a/b:pull,push', 'repository:c:pull']);
  assert.is(c!.params.error, 'insufficient_scope');
});

test('quoted-pair escapes and unquoted tokens', () => {
  const [c] = parseWwwAuthenticate('Basic realm="say \\"hi\\", ok", charset=UTF-8');
  assert.equal(c, { scheme: 'basic', params: { realm: 'say "hi", ok', charset: 'UTF-8' } });
});

test('several challenges in one header and across headers', () => {
  const cs = parseWwwAuthenticate(['Basic realm="r1", Bearer realm="https://t/x",service="s"', 'Negotiate']);
  assert.equal(cs.map((c) => c.scheme), ['basic', 'bearer', 'negotiate']);
  assert.is(cs[1]!.params.realm, 'https://t/x');
  assert.equal(parseWwwAuthenticate(undefined), []);
  assert.equal(parseWwwAuthenticate(''), []);
});

test('scope parsing keeps a host:port resource name whole', () => {
  assert.equal(parseScope('repository:localhost:5000/foo:pull,push'), { type: 'repository', name: 'localhost:5000/foo', actions: new Set(['pull', 'push']) });
  assert.is(parseScope('nonsense'), undefined);
});

test('mergeScopes unions actions per resource, stable order', () => {
  assert.equal(mergeScopes(['repository:a:pull', 'repository:b:pull', 'repository:a:push,pull']), ['repository:a:pull,push', 'repository:b:pull']);
  assert.is(repositoryScope('x/y', ['pull', 'push']), 'repository:x/y:pull,push');
  assert.equal(mergeScopes(['registry:catalog:*']), ['registry:catalog:*']);
});

test.run();
