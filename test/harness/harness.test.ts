// The test harness itself, against real processes: the registry's kill()/restart()/readOnly
// and htpasswd+TLS modes, the pinned Go tools (scripts/test-tools.sh), and the cosign/crane
// helpers with a real cosign key pair, signature and attestation. The e2e tests lean on these
// behaving exactly as claimed, so they are proved here once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { makeOciLayout, type WrittenImage } from '../helpers/images.js';
import { startRegistry, type StartedRegistry } from './registry.js';
import { seedLayout, skopeoInspectRaw } from './seed.js';
import { goTool, toolsBinDir, runTool } from './tools.js';
import { cosignKeyPair, cosignSign, cosignAttest, cosignVerify, cosignVerifyAttestation, craneDigest, type CosignKeys } from './cosign.js';

const USER = 'harness-bot';
const PASSWORD = 'Harness-Pa55word-2c9e';
const KEY_PW = 'cosign key password';

let tmp = '';
let plain: StartedRegistry;
let secure: StartedRegistry;
let readOnly: StartedRegistry;
let single: WrittenImage;
let multi: WrittenImage;
let keys: CosignKeys;
let other: CosignKeys;

/** One HTTPS request trusting only `caFile`; resolves with the status. */
function httpsStatus(url: string, caFile: string, o: { method?: string; auth?: string } = {}): Promise<number> {
  return readFile(caFile).then((ca) => new Promise<number>((resolve, reject) => {
    const req = https.request(url, { method: o.method ?? 'GET', ca, agent: false, timeout: 5000, ...(o.auth ? { auth: o.auth } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  }));
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-harness-'));
  [single, multi] = (await makeOciLayout(join(tmp, 'layout'), [
    { tag: 'single', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 50_000, seed: 'h-single' }] }] },
    {
      tag: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64', layers: [{ size: 40_000, seed: 'h-base' }, { size: 8_000, seed: 'h-amd' }] },
        { os: 'linux', architecture: 'arm64', layers: [{ size: 40_000, seed: 'h-base' }, { size: 8_000, seed: 'h-arm' }] },
      ],
    },
  ])) as [WrittenImage, WrittenImage];
  [plain, secure, readOnly] = await Promise.all([
    startRegistry(),
    startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } }),
    startRegistry({ readOnly: true }),
  ]);
  await seedLayout(plain, join(tmp, 'layout'), 'single', 'ns/single:v1');
  await seedLayout(plain, join(tmp, 'layout'), 'multi', 'ns/multi:v1');
  [keys, other] = await Promise.all([cosignKeyPair(join(tmp, 'keys'), KEY_PW), cosignKeyPair(join(tmp, 'other'), 'another password')]);
});

test.after(async () => {
  await Promise.all([plain?.stop(), secure?.stop(), readOnly?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

test('goTool: scripts/test-tools.sh runs once per process and gives the pinned binaries', async () => {
  const [a, b] = [toolsBinDir(), toolsBinDir()];
  assert.is(a, b, 'memoised: one promise, one script run');
  const cosign = await goTool('cosign');
  const crane = await goTool('crane');
  assert.ok(cosign.endsWith('/cosign') && existsSync(cosign), cosign);
  assert.ok(crane.endsWith('/crane') && existsSync(crane), crane);
  const v = await runTool(cosign, ['version', '--json'], tmp);
  assert.is(v.code, 0, v.stderr);
  assert.is((JSON.parse(v.stdout) as { gitVersion: string }).gitVersion, 'v2.6.5');
  const cv = await runTool(crane, ['version'], tmp);
  assert.is(cv.code, 0, cv.stderr);
  assert.match(cv.stdout, /0\.22\.1/);
});

test('cosign key pair, sign by digest, verify: passes with the key, fails with another', async () => {
  assert.ok(existsSync(keys.key) && existsSync(keys.pub));
  assert.match(await readFile(keys.key, 'utf8'), /ENCRYPTED SIGSTORE PRIVATE KEY/);
  assert.is(await craneDigest(`${plain.host}/ns/single:v1`, { insecure: true }), single.root.digest);
  const s = await cosignSign(`${plain.host}/ns/single:v1`, keys.key, KEY_PW, { insecure: true });
  assert.is(s.digest, single.root.digest);
  assert.is(s.ref, `${plain.host}/ns/single@${single.root.digest}`);
  const tags = await (await fetch(`${plain.url}/v2/ns/single/tags/list`)).json() as { tags: string[] };
  assert.ok(tags.tags.includes(s.tag), `${s.tag} in ${tags.tags.join(', ')}`);

  const ok = await cosignVerify(s.ref, keys.pub, { insecure: true });
  assert.is(ok.code, 0, ok.stderr);
  const claims = JSON.parse(ok.stdout) as Array<{ critical: { image: { 'docker-manifest-digest': string } } }>;
  assert.is(claims[0]!.critical.image['docker-manifest-digest'], single.root.digest);
  // By tag works too (cosign resolves it), and a wrong key is refused.
  assert.is((await cosignVerify(`${plain.host}/ns/single:v1`, keys.pub, { insecure: true })).code, 0);
  const bad = await cosignVerify(s.ref, other.pub, { insecure: true });
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /no matching signatures/);
  // An unsigned image: no signatures.
  const none = await cosignVerify(`${plain.host}/ns/multi:v1`, keys.pub, { insecure: true });
  assert.is.not(none.code, 0);
});

test('cosign attest (slsaprovenance) on a two-platform index, verify-attestation passes', async () => {
  const pred = join(tmp, 'provenance.json');
  await writeFile(pred, JSON.stringify({ builder: { id: 'https://ferry.test/builder' }, buildType: 'https://ferry.test/build', invocation: {} }));
  const a = await cosignAttest(`${plain.host}/ns/multi:v1`, keys.key, KEY_PW, pred, 'slsaprovenance', { insecure: true });
  assert.is(a.digest, multi.root.digest);
  assert.is(a.tag, `sha256-${multi.root.digest.slice(7)}.att`);
  const att = await skopeoInspectRaw(plain, `ns/multi:${a.tag}`);
  const m = JSON.parse(att.toString()) as { layers: Array<{ mediaType: string }> };
  assert.is(m.layers[0]!.mediaType, 'application/vnd.dsse.envelope.v1+json');
  const v = await cosignVerifyAttestation(a.ref, keys.pub, 'slsaprovenance', { insecure: true });
  assert.is(v.code, 0, v.stderr);
  assert.is.not((await cosignVerifyAttestation(a.ref, other.pub, 'slsaprovenance', { insecure: true })).code, 0);
});

test('kill(): requests fail; restart(): same port, same data, an upload session survives', async () => {
  const pid = plain.pid;
  // Start an upload before the crash; its Location carries the HMAC'd _state.
  const post = await fetch(`${plain.url}/v2/ns/single/blobs/uploads/`, { method: 'POST' });
  assert.is(post.status, 202);
  const loc = new URL(post.headers.get('location')!, plain.url);
  const chunk = Buffer.from('upload that outlives a registry crash');
  const patch = await fetch(loc, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: chunk });
  assert.is(patch.status, 202);
  const loc2 = new URL(patch.headers.get('location')!, plain.url);

  await plain.kill();
  assert.is(plain.running(), false);
  let err: unknown;
  try { await fetch(`${plain.url}/v2/`, { signal: AbortSignal.timeout(3000) }); } catch (e) { err = e; }
  assert.ok(err, 'a request to a killed registry fails');
  await plain.kill(); // idempotent

  await plain.restart();
  assert.is(plain.running(), true);
  assert.is.not(plain.pid, pid, 'a new process');
  assert.is((await fetch(`${plain.url}/v2/`)).status, 200);
  const raw = await skopeoInspectRaw(plain, 'ns/single:v1');
  assert.is(JSON.parse(raw.toString()).config.digest, single.configs[0]!.digest);
  assert.is(await craneDigest(`${plain.host}/ns/multi:v1`, { insecure: true }), multi.root.digest);
  // The same http.secret: the pre-crash upload session is still accepted and completes.
  const { createHash } = await import('node:crypto');
  const digest = 'sha256:' + createHash('sha256').update(chunk).digest('hex');
  loc2.searchParams.set('digest', digest);
  const put = await fetch(loc2, { method: 'PUT' });
  assert.is(put.status, 201, await put.text());
  assert.is((await fetch(`${plain.url}/v2/ns/single/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  // A signature written before the crash still verifies.
  assert.is((await cosignVerify(`${plain.host}/ns/single:v1`, keys.pub, { insecure: true })).code, 0);
  // A restart without a kill first works too (it kills, then starts).
  await plain.restart();
  assert.is((await fetch(`${plain.url}/v2/`)).status, 200);
});

test('stop() after kill() removes everything; kill()/restart() after stop() are refused', async () => {
  const r = await startRegistry();
  await r.kill();
  assert.ok(existsSync(r.dir));
  await r.stop();
  assert.not.ok(existsSync(r.dir));
  await r.stop(); // idempotent
  try { await r.restart(); assert.unreachable('restart after stop'); } catch (e) { assert.match(String(e), /stopped/); }
  const r2 = await startRegistry();
  await r2.kill();
  await r2.restart();
  await r2.stop();
  assert.not.ok(existsSync(r2.dir));
  let err: unknown;
  try { await fetch(`${r2.url}/v2/`, { signal: AbortSignal.timeout(3000) }); } catch (e) { err = e; }
  assert.ok(err, 'nothing listens after stop()');
});

test('readOnly: reads answer, a blob upload and a manifest PUT are refused with 405', async () => {
  assert.is((await fetch(`${readOnly.url}/v2/`)).status, 200);
  const post = await fetch(`${readOnly.url}/v2/ns/app/blobs/uploads/`, { method: 'POST' });
  assert.is(post.status, 405, await post.text());
  const mount = await fetch(`${readOnly.url}/v2/ns/app/blobs/uploads/?mount=${single.configs[0]!.digest}&from=ns/single`, { method: 'POST' });
  assert.is(mount.status, 405);
  const put = await fetch(`${readOnly.url}/v2/ns/app/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{}' });
  assert.is(put.status, 405);
  const cat = await (await fetch(`${readOnly.url}/v2/_catalog`)).json() as { repositories: string[] };
  assert.equal(cat.repositories, []);
});

test('htpasswd + TLS: CA-verified, 401 without creds, skopeo/cosign/crane with CA and creds', async () => {
  assert.ok(secure.caFile && secure.url.startsWith('https://'));
  assert.is(await httpsStatus(`${secure.url}/v2/`, secure.caFile!), 401);
  assert.is(await httpsStatus(`${secure.url}/v2/`, secure.caFile!, { auth: `${USER}:${PASSWORD}` }), 200);
  assert.is(await httpsStatus(`${secure.url}/v2/`, secure.caFile!, { auth: `${USER}:wrong` }), 401);
  const creds = `${USER}:${PASSWORD}`;
  const { digest } = await seedLayout(secure, join(tmp, 'layout'), 'single', 'sec/app:v1', creds);
  assert.is(await craneDigest(`${secure.host}/sec/app:v1`, { caFile: secure.caFile!, creds }), digest);
  const noCreds = await craneDigest(`${secure.host}/sec/app:v1`, { caFile: secure.caFile! }).then(() => 'ok', (e: Error) => e.message);
  assert.match(noCreds, /UNAUTHORIZED|401/);
  const s = await cosignSign(`${secure.host}/sec/app:v1`, keys.key, KEY_PW, { caFile: secure.caFile!, creds });
  const v = await cosignVerify(s.ref, keys.pub, { caFile: secure.caFile!, creds });
  assert.is(v.code, 0, v.stderr);
  // The password never reaches a command line: it is in the isolated docker config only.
  assert.not.ok(v.stderr.includes(PASSWORD));
  // And a restart keeps TLS and auth.
  await secure.kill();
  await secure.restart();
  assert.is(await httpsStatus(`${secure.url}/v2/`, secure.caFile!), 401);
  assert.is(await craneDigest(`${secure.host}/sec/app:v1`, { caFile: secure.caFile!, creds }), digest);
});

test.run();
