// DESIGN.md promises that Ferry's bundle signature is the format `cosign verify-blob` uses: the
// real cosign v2.6.5 (built by scripts/test-tools.sh) verifies NAME.manifest.json.sig and
// NAME.sha256.sig with the signer's public key, for both key types ferry-bundle keygen makes,
// and refuses them with another key or over changed bytes. And the other way round: a key made by
// `cosign generate-key-pair` signs a bundle (COSIGN_PASSWORD) that ferry-load verifies with cosign.pub.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli } from '../helpers/cli.js';
import { goTool, runTool } from '../harness/tools.js';
import { cosignKeyPair } from '../harness/cosign.js';
import { loadCli } from '../helpers/cli.js';

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

test('a cosign generate-key-pair key signs a bundle with COSIGN_PASSWORD; ferry-load verify trusts its cosign.pub', async () => {
  const keys = await cosignKeyPair(join(tmp, 'cosign'), 'team cosign password');
  const out = join(tmp, 'b-cosign');
  const wrong = await bundleCli(['create', '--name', 'cos', '--out', out, '--key', keys.key, '--file', join(tmp, 'files', 'a.txt')], { env: { COSIGN_PASSWORD: 'wrong', FERRY_KEY_PASSWORD: undefined }, cwd: tmp });
  assert.is(wrong.code, 5, wrong.stderr);
  assert.match(wrong.stderr, /KEY_PASSWORD_WRONG/);
  const c = await bundleCli(['create', '--name', 'cos', '--out', out, '--key', keys.key, '--file', join(tmp, 'files', 'a.txt')], { env: { COSIGN_PASSWORD: 'team cosign password', FERRY_KEY_PASSWORD: undefined }, cwd: tmp });
  assert.is(c.code, 0, c.stderr + c.stdout);
  const v = await loadCli(['verify', out, '--trusted-key', keys.pub]);
  assert.is(v.code, 0, v.stderr + v.stdout);
  const back = await verifyBlob(keys.pub, join(out, 'cos.manifest.json.sig'), join(out, 'cos.manifest.json'));
  assert.is(back.code, 0, back.out);
});

test.run();
