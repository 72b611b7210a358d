import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FerryError } from '@ferry/format-spec';
import {
  parseReference, makeReference, registryApiHost, registryConfigKey, canonicalRegistry, referenceTarget,
} from '../src/reference.js';

const D = 'sha256:' + 'ab'.repeat(32);

function parts(s: string) {
  const r = parseReference(s);
  return { registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest, str: r.toString() };
}

const ok: Array<[string, { registry: string; repository: string; tag?: string; digest?: string; str: string }]> = [
  ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest', str: 'docker.io/library/alpine:latest' }],
  ['alpine:3.19', { registry: 'docker.io', repository: 'library/alpine', tag: '3.19', str: 'docker.io/library/alpine:3.19' }],
  ['docker://alpine:3', { registry: 'docker.io', repository: 'library/alpine', tag: '3', str: 'docker.io/library/alpine:3' }],
  ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', tag: 'latest', str: 'docker.io/bitnami/redis:latest' }],
  ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest', str: 'docker.io/library/alpine:latest' }],
  ['index.docker.io/library/alpine:edge', { registry: 'docker.io', repository: 'library/alpine', tag: 'edge', str: 'docker.io/library/alpine:edge' }],
  ['index.docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest', str: 'docker.io/library/alpine:latest' }],
  ['gcr.io/cleanstart/python:3.11-prod', { registry: 'gcr.io', repository: 'cleanstart/python', tag: '3.11-prod', str: 'gcr.io/cleanstart/python:3.11-prod' }],
  ['localhost/foo', { registry: 'localhost', repository: 'foo', tag: 'latest', str: 'localhost/foo:latest' }],
  ['localhost:5000/foo/bar:v1', { registry: 'localhost:5000', repository: 'foo/bar', tag: 'v1', str: 'localhost:5000/foo/bar:v1' }],
  ['127.0.0.1:5001/ns/img', { registry: '127.0.0.1:5001', repository: 'ns/img', tag: 'latest', str: '127.0.0.1:5001/ns/img:latest' }],
  ['[::1]:5000/ns/img:t', { registry: '[::1]:5000', repository: 'ns/img', tag: 't', str: '[::1]:5000/ns/img:t' }],
  ['registry:5000/img', { registry: 'registry:5000', repository: 'img', tag: 'latest', str: 'registry:5000/img:latest' }],
  // no "." ":" or localhost in the first component: it is a Docker Hub namespace, not a host
  ['myhost/img', { registry: 'docker.io', repository: 'myhost/img', tag: 'latest', str: 'docker.io/myhost/img:latest' }],
  // a bare domain without a slash is a Docker Hub name (REF FIXME), and the ":5000" is a tag
  ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000', str: 'docker.io/library/localhost:5000' }],
  ['example.com', { registry: 'docker.io', repository: 'library/example.com', tag: 'latest', str: 'docker.io/library/example.com:latest' }],
  // uppercase first component is a host (REF v0.6)
  ['Registry.Example/ns/x', { registry: 'Registry.Example', repository: 'ns/x', tag: 'latest', str: 'Registry.Example/ns/x:latest' }],
  [`alpine@${D}`, { registry: 'docker.io', repository: 'library/alpine', digest: D, str: `docker.io/library/alpine@${D}` }],
  [`quay.io/a/b:1.0@${D}`, { registry: 'quay.io', repository: 'a/b', tag: '1.0', digest: D, str: `quay.io/a/b:1.0@${D}` }],
  ['a/b__c/d-e--f/g.h_i:TAG_ok.1-x', { registry: 'docker.io', repository: 'a/b__c/d-e--f/g.h_i', tag: 'TAG_ok.1-x', str: 'docker.io/a/b__c/d-e--f/g.h_i:TAG_ok.1-x' }],
  [`x/y@sha512:${'c'.repeat(128)}`, { registry: 'docker.io', repository: 'x/y', digest: `sha512:${'c'.repeat(128)}`, str: `docker.io/x/y@sha512:${'c'.repeat(128)}` }],
];

for (const [input, want] of ok) {
  test(`parses ${input.slice(0, 60)}`, () => {
    const got = parts(input);
    assert.equal(got, { ...want, tag: want.tag, digest: want.digest });
    // the normalised form parses back to itself
    assert.is(parseReference(got.str).toString(), got.str);
  });
}

const bad: Array<[string, RegExp]> = [
  ['', /empty/],
  ['Alpine', /lowercase/],
  ['docker.io/Library/alpine', /lowercase/],
  ['myreg.io/ns/UPPER:tag', /lowercase/],
  ['a//b', /empty path component/],
  ['a/b/', /empty path component/],
  ['-a/b', /path component/],
  ['a/b_/c', /path component/],
  ['a/b...c', /path component/],
  ['alpine:', /expected a tag/],
  ['alpine@', /expected a digest/],
  ['alpine:-bad', /tag/],
  [`alpine:${'t'.repeat(129)}`, /tag/],
  ['alpine:a:b', /tag/],
  ['alpine:a+b', /tag/],
  ['alpine@sha256:abc', /digest/],
  [`alpine@sha256:${'A'.repeat(64)}`, /lowercase hex/],
  [`alpine@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  ['a'.repeat(64), /image ID/],
  ['my_host:5000/x', /registry/],
  ['exa mple/x', /whitespace/],
  [`r.io/${'a'.repeat(251)}`, /more than 255/],
  ['r.io/:tag', /no repository/],
];

for (const [input, why] of bad) {
  test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
    try {
      parseReference(input);
    } catch (e) {
      assert.instance(e, FerryError);
      assert.is((e as FerryError).code, 'SOURCE_INVALID');
      assert.match((e as FerryError).message, why);
      assert.ok((e as FerryError).message.includes(input.slice(0, 40)), 'message names the reference');
      return;
    }
    assert.unreachable(`accepted ${input}`);
  });
}

test('credentials typed into a reference are refused, and never echoed', () => {
  for (const input of [
    'alice:s3cr3t@registry.example.com/team/app:1',
    'docker://alice:s3cr3t@registry.example.com/team/app:1',
    'https://alice:s3cr3t@registry.example.com/team/app:1',
    'alice:s3cr3t@localhost:5000/app',
    `alice:s3cr3t@registry.example.com/app@${D}`,
    'alice:s3cr3t with space@registry.example.com/app',
  ]) {
    try {
      parseReference(input);
      assert.unreachable(`accepted ${input}`);
    } catch (e) {
      assert.instance(e, FerryError);
      const fe = e as FerryError;
      assert.is(fe.code, 'SOURCE_INVALID', input);
      assert.match(fe.message, /carries credentials .*--authfile/);
      assert.not.match(fe.message + JSON.stringify(fe.details), /s3cr3t|alice/, input);
      assert.match(fe.message, /\*\*\*@/);
    }
  }
  // Digest references are not credentials.
  assert.is(parseReference(`registry.example.com/team/app@${D}`).digest, D);
});

test('other refusals quote the reference with controls escaped', () => {
  try {
    parseReference('x/\u001b[2Kevil\u009b');
    assert.unreachable();
  } catch (e) {
    assert.not.match((e as Error).message, /[\u001b\u009b]/);
    assert.match((e as Error).message, /x\/\\x1b\[2Kevil\\x9b/);
  }
});

test('name length limit counts the registry (distribution 2.8)', () => {
  const path = 'a'.repeat(255 - 'r.io/'.length);
  assert.is(parseReference(`r.io/${path}`).name.length, 255);
  assert.throws(() => parseReference(`r.io/${path}a`), /more than 255/);
});

test('referenceTarget prefers the digest over the tag', () => {
  assert.is(referenceTarget(parseReference(`x/y:1@${D}`)), D);
  assert.is(referenceTarget(parseReference('x/y')), 'latest');
  assert.is(referenceTarget(parseReference('x/y:2')), '2');
});

test('Docker Hub host names', () => {
  assert.is(registryApiHost('docker.io'), 'registry-1.docker.io');
  assert.is(registryApiHost('index.docker.io'), 'registry-1.docker.io');
  assert.is(registryApiHost('quay.io'), 'quay.io');
  assert.is(registryApiHost('localhost:5000'), 'localhost:5000');
  for (const h of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
    assert.is(registryConfigKey(h), 'https://index.docker.io/v1/');
    assert.is(canonicalRegistry(h), 'docker.io');
  }
  assert.is(registryConfigKey('127.0.0.1:5001'), '127.0.0.1:5001');
  assert.is(canonicalRegistry('ghcr.io'), 'ghcr.io');
});

test('makeReference validates and folds index.docker.io', () => {
  const r = makeReference('index.docker.io', 'library/alpine', '3');
  assert.is(r.toString(), 'docker.io/library/alpine:3');
  assert.throws(() => makeReference('reg.local:5000', 'Bad', 'x'), /lowercase/);
  assert.throws(() => makeReference('bad host', 'a', 'x'), /host/);
  assert.ok(Object.isFrozen(r));
});

test.run();
