import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError, type BundleImage } from '@ferry/format-spec';
import { defaultStateDir, parseRegistryTarget } from '../../src/push/target.js';
import { mapNames } from '../../src/push/names.js';
import { parseRewrite } from '../../src/rewrite.js';

test('--to HOST[:PORT][/PREFIX], docker:// too; credentials, bad hosts and bad prefixes refused without echoing secrets', () => {
  assert.equal(parseRegistryTarget('registry.local:5000'), { registry: 'registry.local:5000', prefix: '' });
  assert.equal(parseRegistryTarget('docker://registry.local:5000/mirror/team/'), { registry: 'registry.local:5000', prefix: 'mirror/team' });
  assert.equal(parseRegistryTarget('[::1]:5000/x'), { registry: '[::1]:5000', prefix: 'x' });
  assert.equal(parseRegistryTarget('localhost'), { registry: 'localhost', prefix: '' });
  for (const bad of ['user:s3cret@registry.local:5000', 'reg istry', 'host:5000/UPPER', 'host:5000//x', '']) {
    assert.throws(() => parseRegistryTarget(bad), (e: unknown) => isFerryError(e, 'USAGE') && !(e as Error).message.includes('s3cret'), bad);
  }
});

test('the state directory defaults beside the user, never relative to the bundle', () => {
  assert.is(defaultStateDir({ XDG_STATE_HOME: '/var/lib/u/state' }), '/var/lib/u/state/ferry');
  assert.is(defaultStateDir({ HOME: '/home/op' }), '/home/op/.local/state/ferry');
});

const img = (source: string, repository: string, tag: string): BundleImage => ({
  source, repository, tag, digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1,
  platformFilter: { mode: 'all' }, platforms: [], blobs: [],
  referrers: [{ digest: `sha256:${'b'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, scheme: 'cosign-tag', tag: `sha256-${'a'.repeat(64)}.sig`, subject: `sha256:${'a'.repeat(64)}`, blobs: [] }],
});

test('the default mapping keeps the path under --to and its prefix; cosign tags go beside their image', () => {
  const t = { kind: 'registry' as const, description: 'r:5000/m', registry: 'r:5000', prefix: 'm', stateDir: '/s' };
  const n = mapNames(t, [img('gcr.io/cleanstart/python:3.11-prod', 'cleanstart/python', '3.11-prod'), img('nginx:1.25', 'library/nginx', '1.25')], []);
  assert.equal(n.refs, ['r:5000/m/cleanstart/python:3.11-prod', 'r:5000/m/library/nginx:1.25']);
  assert.equal(n.referrerTags.map((r) => r.ref), [`r:5000/m/cleanstart/python:sha256-${'a'.repeat(64)}.sig`, `r:5000/m/library/nginx:sha256-${'a'.repeat(64)}.sig`]);
  const rewritten = mapNames({ ...t, prefix: '', description: 'r:5000' }, [img('gcr.io/cleanstart/python:3.11-prod', 'cleanstart/python', '3.11-prod')], [parseRewrite('gcr.io/cleanstart=r:5000/platform')]);
  assert.equal(rewritten.repos, ['platform/python']);
  const layout = mapNames({ kind: 'layout', description: 'oci:/x', layoutDir: '/x', filesDir: '/x-files' }, [img('oci:./l:app', 'team/app', '1.0')], []);
  assert.equal(layout.refs, ['team/app:1.0'], 'a layout names images repository:tag');
});

test.run();
