import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hasCredentials, redactCredentials, redactReference } from '../src/redact-credentials.js';

const D = `sha256:${'a'.repeat(64)}`;

test('userinfo before the host is hidden in every reference form', () => {
  const cases: Array<[string, string]> = [
    ['alice:s3cr3t@registry.example.com/team/app:1', '***@registry.example.com/team/app:1'],
    ['docker://alice:s3cr3t@registry.example.com/team/app:1', 'docker://***@registry.example.com/team/app:1'],
    ['https://alice:s3cr3t@registry.example.com/v2/', 'https://***@registry.example.com/v2/'],
    ['oci://alice:s3cr3t@charts.example.com/team', 'oci://***@charts.example.com/team'],
    ['chartmuseum+https://alice:s3cr3t@cm.example.com/api', 'chartmuseum+https://***@cm.example.com/api'],
    ['alice:s3cr3t@registry.local:5000', '***@registry.local:5000'],
    ['alice:s3cr3t@[::1]:5000/app', '***@[::1]:5000/app'],
    ['alice@registry.example.com/app', '***@registry.example.com/app'],
    // a version-looking host with a password, or followed by a path: still hidden
    ['alice:s3cr3t@1.2.3', '***@1.2.3'],
    ['alice@1.2.3/app', '***@1.2.3/app'],
    // a password holding '@', '/' or ':' is hidden whole
    ['alice:p@ss@registry.example.com/app:1', '***@registry.example.com/app:1'],
    ['alice:pa/ss@registry.example.com/app:1', '***@registry.example.com/app:1'],
    ['alice:a:b@registry.example.com/app', '***@registry.example.com/app'],
    // transports Ferry does not read are quoted only in refusals: redacted like references
    ['docker-daemon:alice:s3cr3t@registry.example.com/app:1', '***@registry.example.com/app:1'],
    // with a digest after it, only the userinfo goes
    [`alice:s3cr3t@registry.example.com/app@${D}`, `***@registry.example.com/app@${D}`],
  ];
  for (const [input, want] of cases) {
    assert.is(redactCredentials(input), want, input);
    assert.is(redactReference(input), want, input);
    assert.ok(hasCredentials(input), input);
  }
});

test('inside a message, only the reference is touched', () => {
  assert.is(
    redactCredentials('invalid image reference "alice:s3cr3t@registry.example.com/team/app:1": bad digest'),
    'invalid image reference "***@registry.example.com/team/app:1": bad digest',
  );
  assert.is(redactCredentials('GET https://u:pw@h.example/v2/ failed (x)'), 'GET https://***@h.example/v2/ failed (x)');
  // a reference typed with a space inside its password: the whole reference is one token for redactReference
  assert.is(redactReference('alice:my pass@registry.example.com/app'), '***@registry.example.com/app');
});

test('not credentials: digest references, local transports, paths with @', () => {
  const same = [
    `alpine@${D}`,
    `registry.example.com/team/app@${D}`,
    `registry.example.com/team/app:1@${D}`,
    `localhost:5000/app@${D}`,
    `docker://registry.example.com/team/app@${D}`,
    `app@sha512:${'b'.repeat(128)}`,
    'alpine@sha256:abc', // a short (invalid) digest is still a digest, not a host
    'oci:/path/with@sign',
    'oci:/path/with@sign:v1',
    'oci:dir@x',
    'oci-archive:/tmp/a@b.tar:app:1',
    'docker-archive:save@2.tar',
    'docker-archive:save.tar:@0',
    '/run/user@1000/bundle/x.manifest.json',
    './rel/a@b/c',
    'node_modules/@ferry/oci/dist/index.js',
    'relative/dir@2/file',
    // a chart and its version (no password, a version where a host would be)
    'web@1.1.0',
    'build@1.0.0+build.5',
    'web@2.0.0-rc.1',
    'alpine@',
    '@registry.example.com/x',
    'no at sign at all',
  ];
  for (const s of same) {
    assert.is(redactCredentials(s), s, s);
    assert.is(redactReference(s), s, s);
    assert.not.ok(hasCredentials(s), s);
  }
  assert.is(redactCredentials(`image source "oci:/path/with@sign": cannot open; see ${D}`), `image source "oci:/path/with@sign": cannot open; see ${D}`);
});

test.run();
