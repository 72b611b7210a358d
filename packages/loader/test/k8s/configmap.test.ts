// The cosign-keys ConfigMap against the real kubectl: `kubectl create configmap cosign-keys
// --from-file=... [--namespace NS] --dry-run=client -o yaml` (a generator: no cluster needed)
// must print the very bytes Ferry writes, for one key, several (kubectl sorts them), a key file
// without a final newline, NAME=FILE, and with and without a namespace. What kubectl refuses
// (two keys of one name, a bad key name) Ferry refuses too, and Ferry also refuses what is not
// a public key, so a private key never lands in a ConfigMap.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cosignKeysConfigMap } from '../../src/k8s/configmap.js';
import { readImageKeys } from '../../src/k8s/keys.js';
import { kubectl } from './tools.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';

let tmp = '';
let home = '';
const ecPem = (): string => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-k8s-cm-'));
  home = join(tmp, 'home');
  await mkdir(home);
  await writeFile(join(tmp, 'cosign.pub'), ecPem());
  await writeFile(join(tmp, 'a-team.pub'), generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
  await writeFile(join(tmp, 'rsa.pub'), generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
  await writeFile(join(tmp, 'nonl.pub'), ecPem().trimEnd());
  await writeFile(join(tmp, 'ring.pub'), `# the current and the next key\n${ecPem()}${ecPem()}`);
  // what kubectl double-quotes: Windows line ends, a comment line ending in a space
  await writeFile(join(tmp, 'crlf.pub'), ecPem().replace(/\n/g, '\r\n'));
  await writeFile(join(tmp, 'spaced.pub'), `# key of the platform team \n${ecPem()}`);
  await mkdir(join(tmp, 'other'));
  await writeFile(join(tmp, 'other', 'cosign.pub'), ecPem());
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function kubectlConfigMap(fromFiles: string[], ns?: string): Promise<string> {
  const r = await kubectl(['create', 'configmap', 'cosign-keys', ...fromFiles.map((f) => `--from-file=${f}`), ...(ns ? ['--namespace', ns] : []), '--dry-run=client', '-o', 'yaml'], { home, cwd: tmp });
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}

async function ferryConfigMap(specs: string[], ns?: string): Promise<string> {
  return cosignKeysConfigMap(await readImageKeys(specs.map((s) => (s.includes('=') ? s.replace('=', `=${tmp}/`) : join(tmp, s)))), ns).content;
}

test('byte for byte what kubectl create configmap --from-file writes: one key, with and without --namespace', async () => {
  assert.is(await ferryConfigMap(['cosign.pub'], 'security'), await kubectlConfigMap(['cosign.pub'], 'security'));
  assert.is(await ferryConfigMap(['cosign.pub']), await kubectlConfigMap(['cosign.pub']));
});

test('several keys (sorted as kubectl sorts them), RSA and Ed25519 too, a file without a final newline, a keyring, NAME=FILE', async () => {
  const all = ['rsa.pub', 'cosign.pub', 'a-team.pub', 'nonl.pub', 'ring.pub'];
  assert.is(await ferryConfigMap(all, 'security'), await kubectlConfigMap(all, 'security'));
  assert.is(await ferryConfigMap(['cosign.pub', 'next.pub=other/cosign.pub'], 'ns1'), await kubectlConfigMap(['cosign.pub', 'next.pub=other/cosign.pub'], 'ns1'));
  const keys = await readImageKeys([join(tmp, 'ring.pub')]);
  assert.is(keys[0]!.pems.length, 2, 'both keys of a keyring go to the policies');
});

test('text a literal block cannot carry (CRLF, a line ending in a space): double-quoted like kubectl, the same values (kubectl also folds long quoted lines)', async () => {
  for (const f of ['crlf.pub', 'spaced.pub']) {
    const ours = await ferryConfigMap([f], 'security');
    assert.match(ours, new RegExp(`^  ${f.replace('.', '\\.')}: "`, 'm'));
    assert.equal(parseYaml(ours), parseYaml(await kubectlConfigMap([f], 'security')), f);
  }
});

test('what kubectl refuses, Ferry refuses: two keys of one name, a name that is no ConfigMap key', async () => {
  const k = await kubectl(['create', 'configmap', 'cosign-keys', '--from-file=cosign.pub', '--from-file=other/cosign.pub', '--dry-run=client', '-o', 'yaml'], { home, cwd: tmp });
  assert.is.not(k.code, 0);
  await rejectsCode(readImageKeys([join(tmp, 'cosign.pub'), join(tmp, 'other', 'cosign.pub')]), 'USAGE', /already named "cosign.pub"/);
  await writeFile(join(tmp, 'bad name.pub'), ecPem());
  const k2 = await kubectl(['create', 'configmap', 'cosign-keys', '--from-file=bad name.pub', '--dry-run=client', '-o', 'yaml'], { home, cwd: tmp });
  assert.is.not(k2.code, 0, 'kubectl refuses a key with a space');
  await rejectsCode(readImageKeys([join(tmp, 'bad name.pub')]), 'USAGE', /not a valid ConfigMap key/);
  // and the NAME= form gets around it, as with kubectl
  const keys = await readImageKeys([`ok.pub=${join(tmp, 'bad name.pub')}`]);
  assert.is(keys[0]!.name, 'ok.pub');
});

test('a private key, a certificate-looking block, binary junk, a missing file: refused before anything is made', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(join(tmp, 'cosign.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await rejectsCode(readImageKeys([join(tmp, 'cosign.key')]), 'KEY_INVALID', /private key/);
  await writeFile(join(tmp, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  await rejectsCode(readImageKeys([join(tmp, 'cert.pem')]), 'KEY_INVALID', /certificate/);
  await writeFile(join(tmp, 'junk.pub'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
  await rejectsCode(readImageKeys([join(tmp, 'junk.pub')]), 'KEY_INVALID');
  await rejectsCode(readImageKeys([join(tmp, 'absent.pub')]), 'INPUT_NOT_FOUND');
});

test.run();
