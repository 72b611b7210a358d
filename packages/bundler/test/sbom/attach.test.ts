// Which image an --sbom-file IMAGE names, the flag's syntax, and attaching: one referrer per
// digest, whether the repeat is the user's or the source registry's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FerryError, sha256Digest } from '@ferry/format-spec';
import type { ResolvedReferrer } from '@ferry/oci';
import { attachSbom, findImage, parseSbomFileFlag, type AttachableImage } from '../../src/sbom/attach.js';
import { sbomReferrer } from '../../src/sbom/referrer.js';
import type { SbomDocument } from '../../src/sbom/read.js';

const root = (c: string) => ({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${c.repeat(64)}`, size: 500 });
const images: AttachableImage[] = [
  { source: 'registry.example:5000/team/app:1.4', repository: 'team/app', tag: '1.4', root: root('a') },
  { source: 'oci:/layouts/web:2', repository: 'web', tag: '2', root: root('b') },
  { source: 'oci:/layouts/web:3', repository: 'web', tag: '3', root: root('c') },
  { source: 'docker://registry.example/tools/x@sha256:' + 'd'.repeat(64), repository: 'tools/x', root: root('d') },
];

function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.instance(e, FerryError);
    assert.is((e as FerryError).code, 'USAGE', (e as Error).message);
    assert.is((e as FerryError).exitCode, 2);
    return (e as Error).message;
  }
  assert.unreachable('expected USAGE');
  return '';
}

test('IMAGE is the --image reference as given, its bundle name, repository@digest, or a unique repository', () => {
  assert.is(findImage('registry.example:5000/team/app:1.4', images, 'w'), 0);
  assert.is(findImage('docker://registry.example:5000/team/app:1.4', images, 'w'), 0, 'docker:// does not matter');
  assert.is(findImage('team/app:1.4', images, 'w'), 0);
  assert.is(findImage('team/app', images, 'w'), 0, 'a repository with one image');
  assert.is(findImage('oci:/layouts/web:3', images, 'w'), 2);
  assert.is(findImage('web:2', images, 'w'), 1);
  assert.is(findImage(`tools/x@sha256:${'d'.repeat(64)}`, images, 'w'), 3, 'an untagged image by its bundle name');
  assert.is(findImage(`web@sha256:${'c'.repeat(64)}`, images, 'w'), 2);
});

test('an IMAGE naming no image, or several, is a usage error that lists the images (did you mean)', () => {
  const m = usage(() => findImage('team/app:1.5', images, '--sbom-file team/app:1.5=s.json'));
  assert.match(m, /^--sbom-file team\/app:1\.5=s\.json: no image of this bundle is team\/app:1\.5 \(did you mean team\/app:1\.4\?\)/);
  assert.match(m, /the images are: team\/app:1\.4, web:2, web:3, tools\/x@sha256:d+$/);
  assert.not.match(usage(() => findImage('something/else', images, 'w')), /did you mean/);
  assert.match(usage(() => findImage('x', [], 'w')), /the images are: none/);
  assert.match(usage(() => findImage('web', images, 'w')), /web names more than one image \(web:2, web:3\); give the one by its name in the bundle/);
});

test('--sbom-file syntax: IMAGE=FILE, split at the first = (a path may hold one)', () => {
  assert.equal(parseSbomFileFlag('team/app:1.4=sboms/app=v1.json'), { image: 'team/app:1.4', file: 'sboms/app=v1.json' });
  for (const bad of ['sbom.json', '=sbom.json', 'team/app=']) assert.match(usage(() => parseSbomFileFlag(bad)), /give IMAGE=FILE/);
});

const doc = (text: string, title = 'sbom.json'): SbomDocument => {
  const bytes = Buffer.from(text);
  return { path: `/x/${title}`, title, mediaType: 'application/spdx+json', digest: sha256Digest(bytes), size: bytes.length, bytes };
};

test('attaching: a referrer of the root is added once; one already discovered at the source is carried once and said so', () => {
  const refs: ResolvedReferrer[] = [];
  const a = attachSbom(images[0]!, refs, doc('{"spdxVersion":"SPDX-2.3"}'), new Set());
  assert.ok(a);
  assert.is(a!.image, 'team/app:1.4');
  assert.is(refs.length, 1);
  assert.is(refs[0]!.subject, images[0]!.root.digest);
  assert.is(a!.referrer, refs[0]!.descriptor.digest);
  assert.is(attachSbom(images[0]!, refs, doc('{"spdxVersion":"SPDX-2.3"}'), new Set()), undefined, 'the same file twice: one referrer, reported once');
  assert.is(refs.length, 1);
  // A second SBOM for the same image is a second referrer.
  attachSbom(images[0]!, refs, doc('{"spdxVersion":"SPDX-2.2"}', 'b.json'), new Set());
  assert.is(refs.length, 2);

  const atSource = sbomReferrer(images[1]!.root, doc('{"spdxVersion":"SPDX-2.3"}'));
  const discovered = [atSource];
  const b = attachSbom(images[1]!, discovered, doc('{"spdxVersion":"SPDX-2.3"}'), new Set([atSource.descriptor.digest]));
  assert.is(discovered.length, 1, 'not carried twice');
  assert.is(b?.alreadyAtSource, true);
});

test.run();
