// The two names of every image (where push put it, what it was called upstream) and the mirror
// rules derived from them: every rule set is checked by resolving every bundled image's source
// name through it, the way registries.conf and containerd would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleImage } from '@ferry/format-spec';
import { mapNames } from '../../src/push/names.js';
import { parseRewrite } from '../../src/rewrite.js';
import { hostMirrors, mapImages, prefixRules, resolveByPrefix, sourceName, type ImageMapping } from '../../src/k8s/mapping.js';
import { hex, image, registryTarget } from './fixtures.js';

const IMAGES: BundleImage[] = [
  image('gcr.io/cleanstart/python:3.11-prod', 'cleanstart/python', '3.11-prod', '1'),
  image('gcr.io/cleanstart/node:20-prod', 'cleanstart/node', '20-prod', '2'),
  image('nginx:1.25', 'library/nginx', '1.25', '3'),
  image('docker://quay.io/team/tool@sha256:' + hex('4'), 'team/tool', undefined, '4', false),
  image('oci:examples/demo:1.0', 'ferry/demo', '1.0', '5'),
];

/** Every image with a source must resolve, through the rules, to exactly where push put it. */
function everyImageResolves(m: ImageMapping): void {
  const { rules, notes } = prefixRules(m);
  for (const i of m.images) {
    if (!i.source) continue;
    if (notes.some((n) => n.image === i.ref && /one place only/.test(n.reason))) continue;
    assert.is(resolveByPrefix(rules, `${i.source.registry}/${i.source.repository}`), i.target, `${i.source.registry}/${i.source.repository}`);
  }
}

test('source names: a registry reference gives host, path and tag; Docker Hub keeps library/; layouts and archives have none', () => {
  assert.equal(sourceName(IMAGES[0]!), { registry: 'gcr.io', repository: 'cleanstart/python', tag: '3.11-prod' });
  assert.equal(sourceName(IMAGES[2]!), { registry: 'docker.io', repository: 'library/nginx', tag: '1.25' });
  assert.equal(sourceName(IMAGES[3]!), { registry: 'quay.io', repository: 'team/tool' }, 'by digest: no tag');
  assert.is(sourceName(IMAGES[4]!), undefined);
  assert.is(sourceName(image('docker-archive:/x/a.tar:app:1', 'app', '1', '6')), undefined);
  assert.equal(sourceName(image('registry.example:5000/a/b', 'a/b', 'latest', '7')), { registry: 'registry.example:5000', repository: 'a/b', tag: 'latest' });
});

test('target names are push\'s own (mapNames): with a prefix, with rewrites by path and by source registry, with TO naming the registry', () => {
  const cases: Array<[string, string[]]> = [
    ['registry.local:5000', []],
    ['registry.local:5000/mirror', []],
    ['registry.local:5000/mirror', ['gcr.io/cleanstart=platform', 'library=hub']],
    ['registry.local:5000', ['cleanstart=registry.local:5000/platform/cs']],
    ['docker://registry.local:5000/a/b/', ['team=x']],
  ];
  for (const [to, rw] of cases) {
    const t = registryTarget(to);
    const rules = rw.map(parseRewrite);
    const m = mapImages(t, IMAGES, rules);
    const n = mapNames(t, IMAGES, rules);
    assert.equal(m.images.map((i) => i.target), n.repos.map((r) => `${t.registry}/${r}`), to);
    assert.equal(m.images.map((i) => i.ref), n.refs, to);
    assert.equal(m.images.map((i) => i.cosignSignature), [true, true, true, false, true]);
  }
});

test('default mapping: one rule per source registry, the whole path kept under the prefix', () => {
  const m = mapImages(registryTarget('registry.local:5000/mirror'), IMAGES, []);
  const { rules, notes } = prefixRules(m);
  assert.equal(rules, [
    { registry: 'docker.io', source: 'docker.io', mirror: 'registry.local:5000/mirror' },
    { registry: 'gcr.io', source: 'gcr.io', mirror: 'registry.local:5000/mirror' },
    { registry: 'quay.io', source: 'quay.io', mirror: 'registry.local:5000/mirror' },
  ]);
  assert.equal(notes.map((n) => n.image), ['registry.local:5000/mirror/ferry/demo:1.0'], 'only the layout image is unreachable');
  everyImageResolves(m);
  const h = hostMirrors(m);
  assert.equal(h.hosts, [
    { registry: 'docker.io', mirrors: ['registry.local:5000/mirror'] },
    { registry: 'gcr.io', mirrors: ['registry.local:5000/mirror'] },
    { registry: 'quay.io', mirrors: ['registry.local:5000/mirror'] },
  ]);
  assert.equal(h.notes, []);
  assert.is(h.reached.length, 4);
});

test('a rewrite that renames gives a prefix rule of its own; containerd, which keeps paths, cannot follow it', () => {
  const m = mapImages(registryTarget('registry.local:5000/mirror'), IMAGES, [parseRewrite('gcr.io/cleanstart=platform')]);
  const { rules } = prefixRules(m);
  assert.ok(rules.some((r) => r.source === 'gcr.io/cleanstart' && r.mirror === 'registry.local:5000/mirror/platform'), JSON.stringify(rules));
  everyImageResolves(m);
  const h = hostMirrors(m);
  assert.equal(h.hosts.find((x) => x.registry === 'gcr.io'), undefined, 'no gcr.io mirror: neither image keeps its path');
  assert.equal(h.notes.map((n) => n.image).sort(), ['registry.local:5000/mirror/platform/node:20-prod', 'registry.local:5000/mirror/platform/python:3.11-prod']);
  assert.match(h.notes[0]!.reason, /keep the source path/);
});

test('a rewrite that only adds a path: containerd gets a second mirror for the host, tried in order; a collision is reported', () => {
  const imgs = [
    image('gcr.io/team/app:1', 'team/app', '1', 'a'),
    image('gcr.io/other/lib:2', 'other/lib', '2', 'b'),
  ];
  const m = mapImages(registryTarget('r:5000'), imgs, [parseRewrite('team=gcr/team')]);
  const h = hostMirrors(m);
  assert.equal(h.hosts, [{ registry: 'gcr.io', mirrors: ['r:5000/gcr', 'r:5000'] }]);
  assert.equal(h.notes, []);
  everyImageResolves(m);
  // other/lib also bundled under r:5000/gcr/other/lib: containerd would try that first.
  const clash = [...imgs, image('docker://gcr.io/gcr/other/lib:3', 'gcr/other/lib', '3', 'c')];
  const m2 = mapImages(registryTarget('r:5000'), clash, [parseRewrite('team=gcr/team')]);
  const h2 = hostMirrors(m2);
  assert.ok(h2.notes.some((n) => n.image === 'r:5000/other/lib:2' && /tries r:5000\/gcr\/other\/lib first/.test(n.reason)), JSON.stringify(h2.notes));
  assert.not.ok(h2.reached.includes('r:5000/other/lib:2'));
});

test('renamed at bundle time, nested repositories, one source bundled twice: exact rules where prefixes disagree, and a note where nothing can work', () => {
  const imgs = [
    image('gcr.io/a:1', 'x/a', '1', '1'), // renamed by the bundle spec
    image('gcr.io/a/b:1', 'a/b', '1', '2'), // below gcr.io/a, kept
    image('gcr.io/c/d:1', 'c/d', '1', '3'),
    image('gcr.io/c/d:2', 'elsewhere/d', '2', '4'), // the same source repository, another target
  ];
  const m = mapImages(registryTarget('r:5000/m'), imgs, []);
  const { rules, notes, reached } = prefixRules(m);
  everyImageResolves(m);
  assert.ok(rules.some((r) => r.source === 'gcr.io/a' && r.mirror === 'r:5000/m/x/a'), JSON.stringify(rules));
  assert.is(resolveByPrefix(rules, 'gcr.io/a/b'), 'r:5000/m/a/b', 'the rule for gcr.io/a must not swallow gcr.io/a/b');
  const twice = notes.filter((n) => /one place only/.test(n.reason));
  assert.is(twice.length, 1, JSON.stringify(notes));
  assert.is(reached.length, 3);
});

test('a tag renamed at bundle time: mirrored by digest only, and said so', () => {
  const m = mapImages(registryTarget('r:5000'), [image('gcr.io/t/app:1.2.3', 't/app', 'stable', '9')], []);
  const { notes } = prefixRules(m);
  assert.is(notes.length, 1);
  assert.match(notes[0]!.reason, /under another tag.*by digest/);
});

test.run();
