// readBaseline: dispatch on the document's mediaType, and everything that is not a baseline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, parsePublicKey, signBytes, loadPrivateKey } from '@ferry/format-spec';
import { readBaseline } from '../../src/baseline/read.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';
import { bytesOf, full } from './fixtures.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-baseline-read-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a bundle manifest is read as a bundle baseline', async () => {
  await writeFile(join(dir, 'week1.manifest.json'), bytesOf(full()));
  const b = await readBaseline(join(dir, 'week1.manifest.json'), {});
  assert.is(b.name, 'week1');
  assert.is(b.blobs.size, 3);
});

test('an inventory goes to the inventory reader, which refuses one that is not valid', async () => {
  await writeFile(join(dir, 'inv.json'), JSON.stringify({ mediaType: 'application/vnd.ferry.inventory.v1+json' }));
  await rejectsCode(readBaseline(join(dir, 'inv.json'), {}), 'BASELINE_INVALID', /inv\.json/);
});

test('not JSON, no mediaType, another format, a directory, a FIFO-like special file or nothing at all', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['text.json', 'hello', /is not JSON/],
    ['null.json', 'null', /mediaType none/],
    ['oci.json', JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json' }), /"application\/vnd\.oci\.image\.index\.v1\+json": neither a Ferry bundle manifest/],
    ['evil.json', JSON.stringify({ mediaType: 'x\u001b[2J' }), /"x\\x1b\[2J"|"x\\u001b\[2J"|"x.\[2J"/],
  ];
  for (const [name, content, re] of cases) {
    await writeFile(join(dir, name), content);
    await rejectsCode(readBaseline(join(dir, name), {}), 'BASELINE_INVALID', re);
  }
  await mkdir(join(dir, 'bundle-dir'));
  await rejectsCode(readBaseline(join(dir, 'bundle-dir'), {}), 'BASELINE_INVALID', /is a directory; give the NAME\.manifest\.json/);
  await rejectsCode(readBaseline(join(dir, 'nowhere.json'), {}), 'INPUT_NOT_FOUND', /no such file/);
  await symlink('/dev/zero', join(dir, 'zero.json'));
  await rejectsCode(readBaseline(join(dir, 'zero.json'), {}), 'BASELINE_INVALID', /./);
});

test('--baseline-key: the manifest signature beside it must verify with the key', async () => {
  const kp = generateKeyPair('ecdsa-p256');
  await writeFile(join(dir, 'k.key'), kp.privatePem);
  const key = await loadPrivateKey(join(dir, 'k.key'));
  const pub = parsePublicKey(kp.publicPem, 'k.pub');
  const other = parsePublicKey(generateKeyPair('ed25519').publicPem, 'o.pub');
  const bytes = bytesOf(full('signed'));
  const p = join(dir, 'signed.manifest.json');
  await writeFile(p, bytes);
  await rejectsCode(readBaseline(p, { trustedKeys: [pub] }), 'BASELINE_INVALID', /no signature .*signed\.manifest\.json\.sig beside it/);
  await writeFile(`${p}.sig`, signBytes(bytes, key));
  assert.is((await readBaseline(p, { trustedKeys: [pub] })).name, 'signed');
  await rejectsCode(readBaseline(p, { trustedKeys: [other] }), 'BASELINE_INVALID', /does not verify with the --baseline-key/);
  // Changed after signing.
  await writeFile(p, bytesOf(full('signed', '2026-11-30T00:00:00Z')));
  await rejectsCode(readBaseline(p, { trustedKeys: [pub] }), 'BASELINE_INVALID', /does not verify/);
});

test.run();
