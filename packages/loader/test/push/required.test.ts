// The delta preflight against a fake registry: what is found, what is mounted (after the name
// mapping), what is refused, and how a refusal names what is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError, type BundleManifest, type Descriptor, type RequiredBlob } from '@ferry/format-spec';
import { checkRequired, mountRequired } from '../../src/push/required.js';
import type { PushState } from '../../src/push/plan.js';
import type { PushTargets } from '../../src/push/target.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const key = (repo: string, digest: string) => `${repo}\0${digest}`;

/** A registry holding `held` (repo -> digests); counts HEADs and mounts. */
function fakeTarget(held: Record<string, string[]>, o: { refuseMounts?: boolean } = {}) {
  const heads: string[] = [];
  const mounts: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const target = {
    requiredPresence: async (repo: string, desc: Descriptor) => {
      heads.push(`${repo}@${desc.digest}`);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return held[repo]?.includes(desc.digest) ? 'present' : 'absent';
    },
    sink: {
      mountBlob: async (repo: string, desc: Descriptor, from: string) => {
        mounts.push(`${from}->${repo}@${desc.digest}`);
        return !o.refuseMounts;
      },
    },
  };
  return { target: target as unknown as PushState['target'], heads, mounts, maxInFlight: () => maxInFlight };
}

const registry = (prefix = ''): PushTargets => ({ kind: 'registry', description: `reg.local${prefix ? `/${prefix}` : ''}`, registry: 'reg.local', prefix, stateDir: '/nonexistent' });

function state(required: RequiredBlob[], images: Array<{ repository: string; tag: string; blobs: string[] }>, targets: PushTargets, target: PushState['target']) {
  const manifest = { name: 'week2', images: images.map((i) => ({ ...i, source: `up.example/${i.repository}:${i.tag}` })), required } as unknown as BundleManifest;
  const repos = images.map((i) => [targets.kind === 'registry' ? targets.prefix : '', i.repository].filter(Boolean).join('/'));
  const wanted = new Map<string, string[]>();
  images.forEach((img, n) => img.blobs.forEach((b) => wanted.set(b, [...new Set([...(wanted.get(b) ?? []), repos[n]!])])));
  return { manifest, targets, target, wanted, present: new Set<string>(), repos, refs: images.map((i, n) => `reg.local/${repos[n]}:${i.tag}`), concurrency: 3 } as unknown as PushState;
}
const req = (c: string, baseline = 'week1', repositories: string[] = []): RequiredBlob => ({ digest: d(c), size: 10, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', kind: 'layer', baseline, repositories });

test('present where needed: counted, nothing to mount; HEADs a few at a time', async () => {
  const blobs = ['1', '2', '3', '4', '5', '6', '7', '8'].map((c) => req(c));
  const f = fakeTarget({ 'team/app': blobs.map((b) => b.digest) });
  const s = state(blobs, [{ repository: 'team/app', tag: '2', blobs: blobs.map((b) => b.digest) }], registry(), f.target);
  const st = await checkRequired(s, [], key);
  assert.equal({ blobs: st.blobs, present: st.present, mounts: st.mounts }, { blobs: 8, present: 8, mounts: [] });
  assert.ok(f.maxInFlight() <= 3 && f.maxInFlight() > 1, `bounded concurrency: ${f.maxInFlight()}`);
  assert.ok(blobs.every((b) => s.present.has(key('team/app', b.digest))));
});

test('absent in the new repository, present where the baseline put it (under the same --to prefix): a mount, done after the lock', async () => {
  const base = req('b', 'week1', ['team/app']);
  const f = fakeTarget({ 'mirror/team/app': [base.digest] });
  const s = state([base], [{ repository: 'team/other', tag: '1', blobs: [base.digest] }], registry('mirror'), f.target);
  const st = await checkRequired(s, [], key);
  assert.equal(st.mounts, [{ digest: base.digest, repository: 'mirror/team/other', from: 'mirror/team/app' }]);
  assert.equal(f.mounts, [], 'planning mounts nothing');
  await mountRequired(s, st.mounts, key);
  assert.equal(f.mounts, [`mirror/team/app->mirror/team/other@${base.digest}`]);
  assert.ok(s.present.has(key('mirror/team/other', base.digest)));
});

test('a refused mount is BASELINE_MISSING, naming digest, repositories and baseline', async () => {
  const base = req('b', 'week1', ['team/app']);
  const f = fakeTarget({ 'team/app': [base.digest] }, { refuseMounts: true });
  const s = state([base], [{ repository: 'team/other', tag: '1', blobs: [base.digest] }], registry(), f.target);
  const st = await checkRequired(s, [], key);
  try {
    await mountRequired(s, st.mounts, key);
    assert.unreachable('a refused mount must fail');
  } catch (e) {
    assert.ok(isFerryError(e, 'BASELINE_MISSING'), String(e));
    assert.match(e.message, new RegExp(`refused to mount 1 required blob\\(s\\): ${base.digest} into team/other from team/app \\(carried by week1\\)`));
    assert.is(e.exitCode, 25);
  }
});

test('missing everywhere: BASELINE_MISSING with the first five named (image and baseline), a count of the rest, nothing asked to mount', async () => {
  const blobs = ['1', '2', '3', '4', '5', '6', '7'].map((c, i) => req(c, i % 2 ? 'week1' : 'week0', ['team/app']));
  const f = fakeTarget({});
  const s = state(blobs, [{ repository: 'team/app', tag: '2', blobs: blobs.map((b) => b.digest) }], registry(), f.target);
  try {
    await checkRequired(s, [], key);
    assert.unreachable('must fail');
  } catch (e) {
    assert.ok(isFerryError(e, 'BASELINE_MISSING'), String(e));
    assert.match(e.message, /^week2 is a delta: 7 blob\(s\) it requires are not in reg\.local: /);
    assert.match(e.message, new RegExp(`${d('1')} for reg\\.local/team/app:2, carried by week0; ${d('2')} for reg\\.local/team/app:2, carried by week1`));
    assert.match(e.message, /; and 2 more\. Nothing was written; load week0, week1 into this target first$/);
    assert.not.match(e.message, new RegExp(d('6')));
    assert.equal(e.details.missing, 7);
  }
  assert.equal(f.mounts, []);
});

test('a hostile baseline repository name is only ever a HEAD target, and shown escaped', async () => {
  const evil = req('e', 'week1\u001b[2J', ['team/app']);
  const f = fakeTarget({});
  const s = state([evil], [{ repository: 'team/app', tag: '1', blobs: [evil.digest] }], registry(), f.target);
  try {
    await checkRequired(s, [], key);
    assert.unreachable('must fail');
  } catch (e) {
    assert.ok(isFerryError(e, 'BASELINE_MISSING'));
    assert.not.ok(e.message.includes('\u001b'), 'no control character reaches the terminal');
  }
});

test.run();
