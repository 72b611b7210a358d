import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INVENTORY_MEDIA_TYPE, inventoryBytes, isFerryError, parseInventory, type Inventory } from '../src/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function good(): Inventory {
  return {
    mediaType: INVENTORY_MEDIA_TYPE,
    inventoryVersion: 1,
    created: '2026-12-01T10:00:00Z',
    ferryVersion: '0.1.0',
    target: 'registry.local:5000/mirror',
    complete: false,
    repositories: [{ name: 'mirror/team/app', tags: { '1.0': d('c'), latest: d('c') } }, { name: 'mirror/base', tags: {} }],
    blobs: [
      { digest: d('c'), size: 500, mediaType: 'application/vnd.oci.image.manifest.v1+json', repositories: ['mirror/team/app'] },
      { digest: d('a'), size: 3_000_000, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', repositories: ['mirror/team/app', 'mirror/base'] },
      { digest: d('b'), size: 0, repositories: [] },
    ],
  };
}

const bytes = (doc: unknown) => Buffer.from(JSON.stringify(doc));

/** The document with `edit` applied must be refused as BASELINE_INVALID, the message matching `re`. */
function refused(edit: (doc: Record<string, any>) => void, re: RegExp): void {
  const doc = JSON.parse(JSON.stringify(good())) as Record<string, any>;
  edit(doc);
  try {
    parseInventory(bytes(doc), 'inv.json');
  } catch (e) {
    assert.ok(isFerryError(e, 'BASELINE_INVALID'), String(e));
    assert.match((e as Error).message, re);
    assert.match((e as Error).message, /^inv\.json: /);
    return;
  }
  assert.unreachable(`accepted: ${JSON.stringify(doc).slice(0, 300)}`);
}

test('a good inventory parses; its canonical bytes are sorted, compact and parse back the same', () => {
  const inv = parseInventory(bytes(good()), 'inv.json');
  assert.is(inv.blobs.length, 3);
  const out = inventoryBytes(good());
  assert.is(out.toString().split('\n').length, 2, 'one line and a newline');
  const back = parseInventory(out, 'out');
  assert.equal(back.blobs.map((b) => b.digest), [d('a'), d('b'), d('c')]);
  assert.equal(back.repositories.map((r) => r.name), ['mirror/base', 'mirror/team/app']);
  assert.equal(back.blobs[0]!.repositories, ['mirror/base', 'mirror/team/app']);
  assert.equal(Object.keys(back.repositories[1]!.tags), ['1.0', 'latest']);
  // Deterministic: the same content in another order gives the same bytes.
  const shuffled = good();
  shuffled.blobs.reverse();
  shuffled.repositories.reverse();
  assert.ok(inventoryBytes(shuffled).equals(out));
});

test('an OCI layout target and a bracketed IPv6 registry are targets', () => {
  for (const target of ['oci:/srv/images', '[::1]:5000', 'localhost']) {
    const doc = { ...good(), target };
    assert.is(parseInventory(bytes(doc), 'x').target, target);
  }
});

test('credentials in the target are refused, and never echoed', () => {
  refused((x) => { x.target = 'alice:s3cret@registry.local:5000'; }, /^(?!.*s3cret).*target carries credentials/);
  refused((x) => { x.target = 'https://alice:s3cret@registry.local'; }, /^(?!.*s3cret).*target carries credentials/);
  refused((x) => { x.target = 'alice@registry.local'; }, /target carries credentials/);
  refused((x) => { x.target = 'registry.local:5000 '; }, /target/);
  refused((x) => { x.target = 'https://registry.local'; }, /target/);
});

test('not an inventory: wrong media type or version, not JSON, not an object', () => {
  refused((x) => { x.mediaType = 'application/vnd.ferry.bundle.manifest.v1+json'; }, /not a Ferry inventory/);
  refused((x) => { x.inventoryVersion = 2; }, /not a Ferry inventory/);
  for (const text of ['not json', '[1,2]', 'null', '"x"']) {
    try {
      parseInventory(Buffer.from(text), 'inv.json');
      assert.unreachable(text);
    } catch (e) {
      assert.ok(isFerryError(e, 'BASELINE_INVALID'), String(e));
    }
  }
});

test('wrong types and unknown fields are refused', () => {
  refused((x) => { x.complete = 'yes'; }, /complete/);
  refused((x) => { x.repositories = {}; }, /repositories/);
  refused((x) => { x.blobs[0].size = '500'; }, /size/);
  refused((x) => { x.blobs[0].repositories = 'mirror/team/app'; }, /repositories/);
  refused((x) => { x.extra = 1; }, /must NOT have additional properties "extra"/);
  refused((x) => { x.blobs[0].volume = 1; }, /additional properties "volume"/);
  refused((x) => { x.repositories[0].owner = 'me'; }, /additional properties "owner"/);
  refused((x) => { delete x.created; }, /created/);
  refused((x) => { x.created = 'yesterday'; }, /created/);
});

test('huge, negative and fractional sizes are refused', () => {
  refused((x) => { x.blobs[0].size = -1; }, /size/);
  refused((x) => { x.blobs[0].size = 2 ** 53; }, /size/);
  refused((x) => { x.blobs[0].size = 1e308; }, /size/);
  refused((x) => { x.blobs[0].size = 1.5; }, /size/);
});

test('bad digests, names and tags are refused', () => {
  refused((x) => { x.blobs[0].digest = 'sha256:' + 'A'.repeat(64); }, /digest/);
  refused((x) => { x.blobs[0].digest = 'sha512:' + 'a'.repeat(128); }, /digest/);
  refused((x) => { x.blobs[0].digest = d('a').slice(0, 70); }, /digest/);
  refused((x) => { x.repositories[0].tags.latest = 'latest'; }, /tags/);
  refused((x) => { x.repositories[0].tags['../x'] = d('c'); }, /tags/);
  refused((x) => { x.repositories[0].name = 'Team/App'; }, /name/);
  refused((x) => { x.repositories[0].name = '../etc'; }, /name/);
  refused((x) => { x.blobs[0].mediaType = 'not a media type'; }, /mediaType/);
});

test('control characters anywhere are refused before the schema speaks', () => {
  refused((x) => { x.ferryVersion = '0.1.0\u001b[2J'; }, /control character/);
  refused((x) => { x.repositories[0].tags['a\u2028'] = d('c'); }, /control character/);
});

test('duplicates and references to repositories not listed are refused', () => {
  refused((x) => { x.blobs.push({ ...x.blobs[0], size: 1 }); }, /listed twice/);
  refused((x) => { x.repositories.push({ name: 'mirror/base', tags: {} }); }, /listed twice/);
  refused((x) => { x.blobs[0].repositories = ['mirror/team/app', 'mirror/team/app']; }, /twice/);
  refused((x) => { x.blobs[0].repositories = ['mirror/elsewhere']; }, /does not list/);
});

test('an inventory larger than the limit is refused unread', () => {
  const big = { length: 200 * 1024 * 1024 } as unknown as Uint8Array;
  try {
    parseInventory(big, 'big.json');
    assert.unreachable();
  } catch (e) {
    assert.ok(isFerryError(e, 'BASELINE_INVALID'));
    assert.match((e as Error).message, /more than an inventory can be/);
  }
});

test('the writer refuses to write what the reader would refuse', () => {
  const bad = good();
  bad.target = 'u:p@host';
  assert.throws(() => inventoryBytes(bad), (e: unknown) => isFerryError(e, 'BASELINE_INVALID'));
});

test.run();
