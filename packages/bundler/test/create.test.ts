// createBundle's own checks that need no image source: they stop the run before any long work.
import { test } from 'uvu';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '@ferry/format-spec';
import { createBundle, type CreateOptions } from '../src/create.js';
import { rejectsCode } from '../../../test/helpers/assert.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-create-'));
  const kp = generateKeyPair('ecdsa-p256');
  await writeFile(join(dir, 'cosign.pub'), kp.publicPem);
  for (const f of ['keys', 'p', 'q']) await writeFile(join(dir, f), f);
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(over: Partial<CreateOptions>, opened: string[]): CreateOptions {
  return {
    outDir: join(dir, 'out'),
    name: 'b',
    unsigned: true,
    images: [{ source: 'oci:never-opened:1' }],
    files: [],
    publicKeys: [],
    platforms: [],
    volumeSize: 1 << 20,
    cwd: dir,
    openSources: async (s) => {
      opened.push(s);
      throw new Error('must not be reached');
    },
    ...over,
  };
}

test('files and keys that cannot coexist are refused before any image is opened, naming both', async () => {
  const opened: string[] = [];
  const e = await rejectsCode(createBundle(options({ files: [{ source: 'keys' }], publicKeys: [join(dir, 'cosign.pub')] }, opened)), 'SPEC_INVALID',
    /carried paths "keys" \(file .*\/keys\) and "keys\/cosign\.pub" \(public key .*cosign\.pub\) cannot both be carried: "keys" would have to be both a file and the directory holding "keys\/cosign\.pub"/);
  assert.is(e.exitCode, 4);
  await rejectsCode(createBundle(options({ files: [{ source: 'q', dest: 'p' }, { source: 'p' }] }, opened)), 'SPEC_INVALID', /"p" \(file .*\/p\) and "p\/q" \(file .*\/q\) cannot both be carried/);
  assert.equal(opened, [], 'no image source was opened');
  assert.not.ok(existsSync(join(dir, 'out')), 'nothing written');
});

test.run();
