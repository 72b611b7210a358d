import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FerryError } from '@ferry/format-spec';
import { parseImageSource, openLocalImageSources } from '../src/transports.js';
import { makeOciLayout } from '../../../test/helpers/images.js';

const run = promisify(execFile);

function fails(s: string, re: RegExp): void {
  try {
    parseImageSource(s);
  } catch (e) {
    assert.instance(e, FerryError);
    assert.is((e as FerryError).code, 'SOURCE_INVALID', `${s}: ${(e as Error).message}`);
    assert.match((e as Error).message, re, s);
    return;
  }
  assert.unreachable(`${s} should not parse`);
}

test('local transports: the path ends at the first colon, the REF may hold colons (as skopeo on Linux)', () => {
  const cases: Array<[string, ReturnType<typeof parseImageSource>]> = [
    ['oci:/data/layout', { transport: 'oci', path: '/data/layout' }],
    ['oci:/data/layout:', { transport: 'oci', path: '/data/layout' }],
    ['oci:./rel/dir:v1.0', { transport: 'oci', path: './rel/dir', ref: 'v1.0' }],
    ['oci:dir:example.com:5000/team/app:1.0', { transport: 'oci', path: 'dir', ref: 'example.com:5000/team/app:1.0' }],
    ['oci:dir:@2', { transport: 'oci', path: 'dir', ref: '@2' }],
    ['oci-archive:/tmp/img.tar', { transport: 'oci-archive', path: '/tmp/img.tar' }],
    ['oci-archive:img.tar:team/app:2', { transport: 'oci-archive', path: 'img.tar', ref: 'team/app:2' }],
    ['docker-archive:/x/save.tar', { transport: 'docker-archive', path: '/x/save.tar' }],
    ['docker-archive:save.tar:alpine:3.19', { transport: 'docker-archive', path: 'save.tar', ref: 'alpine:3.19' }],
    ['docker-archive:save.tar:localhost:5000/a/b:c', { transport: 'docker-archive', path: 'save.tar', ref: 'localhost:5000/a/b:c' }],
    ['docker-archive:save.tar:@0', { transport: 'docker-archive', path: 'save.tar', ref: '@0' }],
    ['docker-archive:my dir/with spaces.tar', { transport: 'docker-archive', path: 'my dir/with spaces.tar' }],
  ];
  for (const [s, want] of cases) assert.equal(parseImageSource(s), want, s);
});

test('registry references: docker://, registry:// and bare references', () => {
  assert.equal(parseImageSource('docker://ghcr.io/x/y:1'), { transport: 'docker', reference: 'ghcr.io/x/y:1' });
  assert.equal(parseImageSource('registry://localhost:5000/a'), { transport: 'docker', reference: 'localhost:5000/a' });
  assert.equal(parseImageSource('gcr.io/cleanstart/python:3.11-prod'), { transport: 'docker', reference: 'gcr.io/cleanstart/python:3.11-prod' });
  assert.equal(parseImageSource('alpine'), { transport: 'docker', reference: 'alpine' });
  assert.equal(parseImageSource('localhost:5000/ns/img:t'), { transport: 'docker', reference: 'localhost:5000/ns/img:t' });
  // a host that happens to share a transport's name, with a port: still a registry
  assert.equal(parseImageSource('dir:5000/ns/img'), { transport: 'docker', reference: 'dir:5000/ns/img' });
  // an image literally named like a transport needs docker://
  assert.equal(parseImageSource('docker://oci:1.0'), { transport: 'docker', reference: 'oci:1.0' });
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.equal(parseImageSource(`alpine@${digest}`), { transport: 'docker', reference: `alpine@${digest}` });
});

test('bad source strings are refused with the reason', () => {
  fails('', /empty/);
  fails('oci:', /no path/);
  fails('oci::tag', /no path/);
  fails('docker-archive:', /no path/);
  fails('oci:dir:bad ref', /not a valid layout reference name/);
  fails('oci:dir:-leading', /not a valid layout reference name/);
  fails('oci-archive:f.tar:a//b', /not a valid layout reference name/);
  fails('docker-archive:f.tar:@x', /source index/);
  fails('docker-archive:f.tar:@-1', /source index/);
  fails(`docker-archive:f.tar:alpine@sha256:${'a'.repeat(64)}`, /not a digest/);
  fails('docker-archive:f.tar:UPPER', /lowercase|invalid/);
  fails('docker:alpine', /docker:\/\/REF/);
  fails('dir:/some/path', /dir: transport is not supported/);
  fails('docker-daemon:alpine:latest', /not supported/);
  fails('containers-storage:alpine', /not supported/);
  fails('docker://', /empty/);
  fails('Not A Reference', /whitespace|invalid/);
});

test('credentials in a source are refused before any transport rule; local paths with @ are not credentials', () => {
  for (const s of ['alice:s3cr3t@registry.example.com/team/app:1', 'docker://alice:s3cr3t@registry.example.com/team/app:1', 'registry://alice:s3cr3t@h.example/x', 'https://alice:s3cr3t@registry.example.com/x', 'docker-daemon:alice:s3cr3t@registry.example.com/x:1']) {
    try {
      parseImageSource(s);
      assert.unreachable(s);
    } catch (e) {
      assert.is((e as FerryError).code, 'SOURCE_INVALID');
      assert.match((e as Error).message, /carries credentials/);
      assert.not.match((e as Error).message + JSON.stringify((e as FerryError).details), /s3cr3t/);
    }
  }
  assert.equal(parseImageSource('oci:/path/with@sign:v1'), { transport: 'oci', path: '/path/with@sign', ref: 'v1' });
  assert.equal(parseImageSource('oci-archive:/tmp/a@b.tar'), { transport: 'oci-archive', path: '/tmp/a@b.tar' });
});

test('openLocalImageSources opens each local transport; registry sources are refused for now', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ferry-transports-'));
  try {
    const layout = join(root, 'lay');
    const w = await makeOciLayout(layout, [{ tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 500, seed: 't' }] }] }]);
    const [a] = await openLocalImageSources(`oci:${layout}:v1`);
    assert.is((await a!.resolve()).descriptor.digest, w[0]!.root.digest);
    await run('skopeo', ['copy', `oci:${layout}:v1`, `oci-archive:${join(root, 'a.tar')}:v1`]);
    const [b] = await openLocalImageSources(`oci-archive:${join(root, 'a.tar')}`);
    assert.is((await b!.resolve()).descriptor.digest, w[0]!.root.digest);
    await run('skopeo', ['copy', `oci:${layout}:v1`, `docker-archive:${join(root, 'd.tar')}:x/y:1`]);
    const ds = await openLocalImageSources(`docker-archive:${join(root, 'd.tar')}:x/y:1`);
    assert.is(ds.length, 1);
    assert.is(ds[0]!.repository, 'x/y');
    try {
      await openLocalImageSources('ghcr.io/x/y:1');
      assert.unreachable();
    } catch (e) {
      assert.is((e as FerryError).code, 'SOURCE_INVALID');
      assert.match((e as Error).message, /registry sources are not available in this build/);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
