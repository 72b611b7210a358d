// DESIGN.md promises that Ferry's bundle signature is the format `cosign verify-blob` uses: the
// real cosign v2.6.5 (built by scripts/test-tools.sh) verifies NAME.manifest.json.sig and
// NAME.sha256.sig with the signer's public key, for both key types ferry-bundle keygen makes,
// and refuses them with another key or over changed bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli } from '../helpers/cli.js';
import { goTool, runTool } from '../harness/tools.js';

let tmp = '';

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-e2e-cosign-'));
  await mkdir(join(tmp, 'files'));
  await writeFile(join(tmp, 'files', 'a.txt'), 'carried across\n');
  for (const alg of ['ecdsa-p256', 'ed25519']) {
    const k = await bundleCli(['keygen', '--out', join(tmp, alg), '--algorithm', alg], { env: { FERRY_KEY_PASSWORD: '' } });
    assert.is(k.code, 0, k.stderr);
    const c = await bundleCli(['create', '--name', alg, '--out', join(tmp, `b-${alg}`), '--key', join(tmp, `${alg}.key`), '--file', join(tmp, 'files', 'a.txt')], { env: { FERRY_KEY_PASSWORD: '' }, cwd: tmp });
    assert.is(c.code, 0, c.stderr + c.stdout);
  }
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function verifyBlob(pub: string, sig: string, blob: string): Promise<{ code: number; out: string }> {
  const home = join(tmp, 'home');
  await mkdir(home, { recursive: true });
  const r = await runTool(await goTool('cosign'), ['verify-blob', '--key', pub, '--signature', sig, '--insecure-ignore-tlog', blob], home);
  return { code: r.code, out: r.stdout + r.stderr };
}

for (const alg of ['ecdsa-p256', 'ed25519']) {
  test(`cosign verify-blob accepts Ferry's ${alg} signatures on the manifest and the checksum list, and refuses another key or other bytes`, async () => {
    const dir = join(tmp, `b-${alg}`);
    const pub = join(tmp, `${alg}.pub`);
    for (const f of [`${alg}.manifest.json`, `${alg}.sha256`]) {
      const ok = await verifyBlob(pub, join(dir, `${f}.sig`), join(dir, f));
      assert.is(ok.code, 0, `${f}: ${ok.out}`);
      assert.match(ok.out, /Verified OK/);
    }
    const other = alg === 'ecdsa-p256' ? 'ed25519' : 'ecdsa-p256';
    const wrongKey = await verifyBlob(join(tmp, `${other}.pub`), join(dir, `${alg}.manifest.json.sig`), join(dir, `${alg}.manifest.json`));
    assert.is.not(wrongKey.code, 0, 'another key does not verify');
    const changed = join(tmp, `changed-${alg}.json`);
    await writeFile(changed, Buffer.concat([await readFile(join(dir, `${alg}.manifest.json`)), Buffer.from(' ')]));
    const wrongBytes = await verifyBlob(pub, join(dir, `${alg}.manifest.json.sig`), changed);
    assert.is.not(wrongBytes.code, 0, 'changed bytes do not verify');
  });
}

test.run();
