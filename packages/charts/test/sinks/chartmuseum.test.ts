// ChartmuseumSink against the real ChartMuseum v0.16.3 (test/harness/chartmuseum.ts), with the
// real helm v3.22.0 (test/harness/helm.ts) packaging and signing the charts and reading back what
// the sink stored: `helm repo add` + `helm pull` give the exact bytes, `helm pull --verify` the
// signature. What the server received is read from its storage dir and its request log; a second
// signature over the same bytes is made by the real gpg (helm cannot sign an existing .tgz).
//
// Four chartmuseum processes, each with the flags a group of cases needs:
//   cm         Basic auth, defaults (?force allowed)     raw + multipart, .prov, check, 409s,
//                                                        force, auth
//   strict     --depth 1 --disable-force-overwrite       tenants, a refused ?force, the form
//              --chart/prov-post-form-field-name pkg/sig field names, a path that misses --depth
//   overwrite  --allow-overwrite, TLS with a test CA     never replaced without force; the CA file
//   small      --max-storage-objects 2                    507, 413 and 400 from the server itself
//              --max-upload-size 16384
// and the real nginx as a web server that is not ChartMuseum (preflight must say so).
//
// No stand-in case is left: every status the sink handles comes from the real server
// (chartmuseum has --max-storage-objects for 507 and --max-upload-size for 413, so neither needs
// faking). What is injected is not a server but a second client acting at the one moment a
// race needs (between the sink's look and its POST): raceAfterLook runs a real upload from
// inside the sink's check(), raceBeforePost right before the sink's POST /api/prov goes out;
// the 409 and everything after it come from chartmuseum. Not tested here: control characters
// in a server's message, because chartmuseum escapes them itself (Go %q) and so cannot send
// one; escaping them is ChartHttp's job and http.test.ts covers it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '@ferry/format-spec';
import { startChartmuseum, type StartedChartmuseum } from '../../../../test/harness/chartmuseum.js';
import { startNginx, type StartedNginx } from '../../../../test/harness/nginx.js';
import { makeChart, makeSigningKeyring, newHelm, type HelmClient, type SigningKeyring } from '../../../../test/harness/helm.js';
import { ChartmuseumSink, multipartBody, parseChartmuseumDestination } from '../../src/sinks/chartmuseum.js';
import type { ChartUpload } from '../../src/types.js';
import { ferryError, packChart } from '../fixtures.js';

const USER = 'cm-user';
const PASSWORD = 'Museum-pw-42!';
const SECRETS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];
const CREDS = { creds: `${USER}:${PASSWORD}` };
const HELM_AUTH = { username: USER, password: PASSWORD };
const fast = { attempts: 1 };

let tmp = '';
let h: HelmClient;
let keys: SigningKeyring;
let other: SigningKeyring; // a second signer, for another signature over the same bytes
let cm: StartedChartmuseum;
let strict: StartedChartmuseum;
let overwrite: StartedChartmuseum;
let small: StartedChartmuseum;
let web: StartedNginx;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-cm-sink-'));
  [h, keys, other, cm, strict, overwrite, small, web] = await Promise.all([
    newHelm(),
    makeSigningKeyring(),
    makeSigningKeyring({ name: 'Other Signer', email: 'other-signer@example.invalid' }),
    startChartmuseum({ basicAuth: { user: USER, password: PASSWORD } }),
    startChartmuseum({ depth: 1, disableForceOverwrite: true, formFields: { chart: 'pkg', prov: 'sig' } }),
    startChartmuseum({ allowOverwrite: true, tls: true }),
    startChartmuseum({ maxStorageObjects: 2, maxUploadSize: 16384 }),
    startNginx(),
  ]);
});

test.after(async () => {
  await Promise.all([cm?.stop(), strict?.stop(), overwrite?.stop(), small?.stop(), web?.stop(), h?.cleanup()]);
  await rm(tmp, { recursive: true, force: true });
});

let made = 0;

/** A chart packaged (and signed, with `sign`) by the real helm, as a ChartUpload. Every call gives other bytes. */
async function pack(name: string, version: string, o: { sign?: boolean; values?: string } = {}): Promise<ChartUpload> {
  const n = ++made;
  const dir = join(tmp, 'src', String(n), name);
  await makeChart(dir, { name, version, values: o.values ?? `build: ${n}\n` });
  const p = await h.helmPackage(dir, join(tmp, 'pkg', String(n)), o.sign ? { sign: { key: keys.name, keyring: keys.secring } } : {});
  const archive = await readFile(p.tgz);
  return {
    name, version, archive, digest: sha256Digest(archive),
    ...(p.prov ? { provenance: await readFile(p.prov) } : {}),
    oci: { manifest: Buffer.alloc(0), manifestDigest: '', manifestMediaType: '', config: Buffer.alloc(0), configDigest: '' },
    metadata: { apiVersion: 'v2', name, version },
  };
}

interface Served { method: string; path: string; status: number }

/** chartmuseum's request log: one "Request served" line per request (written before the answer goes out). */
async function served(s: StartedChartmuseum): Promise<Served[]> {
  const out: Served[] = [];
  for (const line of (await s.log()).split('\n')) {
    const at = line.indexOf('Request served');
    if (at < 0) continue;
    const o = JSON.parse(line.slice(line.indexOf('{', at))) as { method: string; path: string; statusCode: number };
    out.push({ method: o.method, path: o.path, status: o.statusCode });
  }
  return out;
}
const posts = async (s: StartedChartmuseum) => (await served(s)).filter((r) => r.method === 'POST');

/** What the server keeps for `file` in `repo` (a tenant at --depth 1), or undefined. */
async function stored(s: StartedChartmuseum, file: string, repo = ''): Promise<Buffer | undefined> {
  try {
    return await readFile(join(s.storageDir, repo, file));
  } catch {
    return undefined;
  }
}

/** Another client's upload (raw, as `curl --data-binary` would), straight to the server. */
async function otherUpload(s: StartedChartmuseum, c: ChartUpload, o: { repo?: string; auth?: boolean } = {}): Promise<void> {
  const res = await fetch(`${s.url}/api${o.repo ? `/${o.repo}` : ''}/charts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', ...(o.auth ? { Authorization: `Basic ${SECRETS[1]}` } : {}) },
    body: c.archive,
  });
  assert.is(res.status, 201, `the other upload: ${await res.text()}`);
}

/** Run `between` once, right after the sink's first look (check) and before its POST. */
function raceAfterLook(sink: ChartmuseumSink, between: () => Promise<void>): void {
  const look = sink.check.bind(sink);
  let done = false;
  sink.check = async (c) => {
    const r = await look(c);
    if (!done) {
      done = true;
      await between();
    }
    return r;
  };
}

/** gpg with its own GNUPGHOME; rejects with stderr. */
function gpg(home: string, args: string[]): Promise<string> {
  return new Promise((ok, bad) => {
    execFile('gpg', ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
      { env: { ...process.env, GNUPGHOME: home }, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => (err ? bad(new Error(`gpg ${args.join(' ')}: ${stderr || err.message}`)) : ok(stdout)));
  });
}

/**
 * Another signature over the same chart bytes: helm's .prov body (Chart.yaml, then the files'
 * sha256) clearsigned again by the real gpg with `signer`'s key. helm cannot do this itself
 * (`helm package --sign` always packs anew, and a new pack is other bytes).
 */
async function resign(prov: Buffer, signer: SigningKeyring): Promise<Buffer> {
  const m = /^-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[^\r\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n-----BEGIN PGP SIGNATURE-----/.exec(prov.toString('utf8'));
  if (!m) throw new Error('not a clearsigned .prov');
  const body = m[1]!.replace(/^- /gm, '');
  const home = await mkdtemp(join(tmpdir(), 'ferry-gpg-'));
  try {
    await gpg(home, ['--import', signer.secring]);
    await writeFile(join(home, 'body'), `${body}\n`);
    await gpg(home, ['--local-user', signer.fingerprint, '--digest-algo', 'SHA512', '--output', join(home, 'body.asc'), '--clearsign', join(home, 'body')]);
    return await readFile(join(home, 'body.asc'));
  } finally {
    await new Promise<void>((ok) => execFile('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } }, () => ok()));
    await rm(home, { recursive: true, force: true });
  }
}

/** Run `between` once, right before the sink's first POST to `path` goes out. */
function raceBeforePost(sink: ChartmuseumSink, path: string, between: () => Promise<void>): void {
  const send = sink.http.send.bind(sink.http);
  let done = false;
  sink.http.send = async (req) => {
    if (!done && req.method === 'POST' && new URL(String(req.url)).pathname === path) {
      done = true;
      await between();
    }
    return send(req);
  };
}

/** Another client's .prov upload (POST /api/prov, raw). */
async function otherProv(s: StartedChartmuseum, prov: Buffer): Promise<void> {
  const res = await fetch(`${s.url}/api/prov`, { method: 'POST', headers: { Authorization: `Basic ${SECRETS[1]}` }, body: prov });
  assert.is(res.status, 201, `the other .prov upload: ${await res.text()}`);
}

let repos = 0;

/** `helm repo add` (a fresh name, so a fresh index) + `helm pull`; the bytes helm wrote. */
async function helmPulls(repoUrl: string, c: ChartUpload, o: { auth?: boolean; caFile?: string; keyring?: string } = {}): Promise<{ tgz: Buffer; prov?: Buffer }> {
  const name = `repo${++repos}`;
  await h.helmRepoAdd(name, repoUrl, { ...(o.auth ? HELM_AUTH : {}), ...(o.caFile ? { caFile: o.caFile } : {}) });
  const p = await h.helmPull(`${name}/${c.name}`, { version: c.version, ...(o.keyring ? { verify: { keyring: o.keyring } } : {}) });
  return { tgz: await readFile(p.tgz), ...(p.prov ? { prov: await readFile(p.prov) } : {}) };
}

test('destination parsing and the multipart body', async () => {
  const d = parseChartmuseumDestination('chartmuseum+https://cm.example.com:8443/org/team/');
  assert.is(d.server.href, 'https://cm.example.com:8443/');
  assert.is(d.tenant, 'org/team');
  assert.is(parseChartmuseumDestination('chartmuseum+http://h').tenant, '');
  await ferryError(Promise.resolve().then(() => parseChartmuseumDestination('https://h')), 'USAGE');
  const { body, contentType } = multipartBody([{ field: 'chart', filename: 'a-1.tgz', contentType: 'application/gzip', data: Buffer.from('AAA') }]);
  const b = /boundary=(.+)$/.exec(contentType)![1]!;
  assert.is(body.toString(), `--${b}\r\nContent-Disposition: form-data; name="chart"; filename="a-1.tgz"\r\nContent-Type: application/gzip\r\n\r\nAAA\r\n--${b}--\r\n`);
});

test('preflight: the right credentials pass; none or a wrong password is REGISTRY_AUTH naming ChartMuseum, no secret in it', async () => {
  const good = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  await good.preflight();
  assert.equal(good.notes, []);
  await good.close();

  const none = new ChartmuseumSink(`chartmuseum+${cm.url}`, fast);
  const e0 = await ferryError(none.preflight(), 'REGISTRY_AUTH');
  assert.match(e0.message, 'ChartMuseum');
  await none.close();

  const badPassword = `bad-${PASSWORD}`;
  const wrong = new ChartmuseumSink(`chartmuseum+${cm.url}`, { creds: `${USER}:${badPassword}`, ...fast });
  const wrongSecrets = [...SECRETS, badPassword, Buffer.from(`${USER}:${badPassword}`).toString('base64')];
  const e1 = await ferryError(wrong.preflight(), 'REGISTRY_AUTH', wrongSecrets);
  assert.match(e1.message, 'ChartMuseum');
  const c = await pack('denied', '0.0.1');
  await ferryError(wrong.put(c, { force: false }), 'REGISTRY_AUTH', wrongSecrets);
  assert.is(await stored(cm, 'denied-0.0.1.tgz'), undefined, 'nothing stored with the wrong password');
  await wrong.close();

  // A server without auth: preflight passes and says uploads rely on anonymous writes.
  const anon = new ChartmuseumSink(`chartmuseum+${strict.url}/anon`, fast);
  await anon.preflight();
  assert.match(anon.notes.join('\n'), 'no credentials given');
  await anon.close();
});

test('raw upload (no .prov): absent → uploaded, the exact bytes stored; the same again is skipped without a POST; helm pull gives the bytes', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const a = await pack('app', '1.0.0');
  assert.equal(await sink.check(a), { state: 'absent' });
  const before = (await posts(cm)).length;
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  assert.ok((await stored(cm, 'app-1.0.0.tgz'))?.equals(a.archive), 'stored as given');
  assert.is(await stored(cm, 'app-1.0.0.tgz.prov'), undefined);
  assert.equal(await sink.check(a), { state: 'same' });
  assert.is(await sink.put(a, { force: false }), 'skipped');
  const after = await posts(cm);
  assert.equal(after.slice(before).map((r) => [r.path, r.status]), [['/api/charts', 201]], 'one POST: the second put only looked');
  assert.is(sink.locationOf(a), `${cm.url}/app`);
  assert.is(sink.repoUrl, cm.url);
  const pulled = await helmPulls(sink.repoUrl, a, { auth: true });
  assert.ok(pulled.tgz.equals(a.archive), 'helm pull: the uploaded bytes');
  await sink.close();
});

test('multipart chart + .prov: both stored as given; helm pull --verify passes with the signer\'s keyring', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const s = await pack('signed', '0.1.0', { sign: true });
  assert.is(await sink.put(s, { force: false }), 'uploaded');
  assert.ok((await stored(cm, 'signed-0.1.0.tgz'))?.equals(s.archive));
  assert.ok((await stored(cm, 'signed-0.1.0.tgz.prov'))?.equals(s.provenance!), 'the .prov went in the same POST');
  assert.is(await sink.put(s, { force: false }), 'skipped');
  const pulled = await helmPulls(sink.repoUrl, s, { auth: true, keyring: keys.pubring });
  assert.ok(pulled.tgz.equals(s.archive));
  assert.ok(pulled.prov?.equals(s.provenance!), 'helm fetched and verified the .prov');
  await sink.close();
});

test('the same chart bytes on the server without their .prov: put adds the .prov (POST /api/prov) and helm pull --verify passes', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const s = await pack('late', '1.0.0', { sign: true });
  const { provenance, ...unsigned } = s;
  assert.is(await sink.put(unsigned, { force: false }), 'uploaded');
  assert.is(await stored(cm, 'late-1.0.0.tgz.prov'), undefined, 'first loaded from a bundle without the .prov');
  assert.is(await sink.put(s, { force: false }), 'uploaded', 'the .prov was missing');
  assert.ok((await stored(cm, 'late-1.0.0.tgz.prov'))?.equals(provenance!));
  assert.ok((await stored(cm, 'late-1.0.0.tgz'))?.equals(s.archive), 'the chart untouched');
  const last = (await posts(cm)).at(-1)!;
  assert.equal([last.path, last.status], ['/api/prov', 201]);
  assert.is(await sink.put(s, { force: false }), 'skipped');
  assert.is(await sink.put(unsigned, { force: false }), 'skipped', 'a bundle without a .prov leaves the server\'s alone');
  const pulled = await helmPulls(sink.repoUrl, s, { auth: true, keyring: keys.pubring });
  assert.ok(pulled.prov?.equals(provenance!));
  await sink.close();
});

test('another signature over the same bytes: CHART_CONFLICT unless forced; forced, helm verifies the new signer and not the old', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const s = await pack('resigned', '1.0.0', { sign: true });
  assert.is(await sink.put(s, { force: false }), 'uploaded');
  const s2: ChartUpload = { ...s, provenance: await resign(s.provenance!, other) };
  assert.not.ok(s2.provenance!.equals(s.provenance!));
  assert.equal(await sink.check(s2), { state: 'same' }, 'the chart bytes are the same');
  const before = (await posts(cm)).length;
  const e = await ferryError(sink.put(s2, { force: false }), 'CHART_CONFLICT');
  assert.match(e.message, 'resigned-1.0.0.tgz.prov');
  assert.match(e.message, sha256Digest(s.provenance!));
  assert.is((await posts(cm)).length, before, 'nothing sent');
  assert.ok((await stored(cm, 'resigned-1.0.0.tgz.prov'))?.equals(s.provenance!));
  assert.is(await sink.put(s2, { force: true }), 'uploaded');
  assert.ok((await stored(cm, 'resigned-1.0.0.tgz.prov'))?.equals(s2.provenance!), 'the new signature');
  assert.ok((await stored(cm, 'resigned-1.0.0.tgz'))?.equals(s.archive));
  assert.ok((await helmPulls(sink.repoUrl, s2, { auth: true, keyring: other.pubring })).prov?.equals(s2.provenance!));
  await h.helmRepoAdd('resigned-old', sink.repoUrl, HELM_AUTH);
  const old = await h.helm(['pull', 'resigned-old/resigned', '--version', '1.0.0', '--verify', '--keyring', keys.pubring, '--destination', join(tmp, 'resigned-old')]);
  assert.is.not(old.code, 0, 'the first signer no longer verifies it');
  await sink.close();

  // A server that refuses ?force refuses it for the .prov too.
  const locked = new ChartmuseumSink(`chartmuseum+${strict.url}/nf`, fast);
  assert.is(await locked.put(s, { force: false }), 'uploaded');
  const e2 = await ferryError(locked.put(s2, { force: true }), 'CHART_CONFLICT');
  assert.match(e2.message, '--disable-force-overwrite');
  assert.ok((await stored(strict, 'resigned-1.0.0.tgz.prov', 'nf'))?.equals(s.provenance!));
  await locked.close();
});

test('.prov only: a 409 race is looked at again (the same .prov skipped, another one CHART_CONFLICT); a .prov the server cannot read is CHART_REPO_ERROR naming it', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const s = await pack('provrace', '1.0.0', { sign: true });
  const { provenance, ...unsigned } = s;
  assert.is(await sink.put(unsigned, { force: false }), 'uploaded');
  raceBeforePost(sink, '/api/prov', () => otherProv(cm, provenance!));
  assert.is(await sink.put(s, { force: false }), 'skipped', 'the other client stored the same .prov');
  assert.equal((await posts(cm)).slice(-2).map((r) => [r.path, r.status]), [['/api/prov', 201], ['/api/prov', 409]]);

  const t = await pack('provrace', '2.0.0', { sign: true });
  const { provenance: tProv, ...tUnsigned } = t;
  assert.is(await sink.put(tUnsigned, { force: false }), 'uploaded');
  const theirs = await resign(tProv!, other);
  raceBeforePost(sink, '/api/prov', () => otherProv(cm, theirs));
  const e = await ferryError(sink.put(t, { force: false }), 'CHART_CONFLICT');
  assert.match(e.message, sha256Digest(theirs));
  assert.ok((await stored(cm, 'provrace-2.0.0.tgz.prov'))?.equals(theirs), 'theirs stays');

  const g = await pack('provrace', '3.0.0');
  assert.is(await sink.put(g, { force: false }), 'uploaded');
  const e2 = await ferryError(sink.put({ ...g, provenance: Buffer.from('not a signature\n') }, { force: false }), 'CHART_REPO_ERROR');
  assert.match(e2.message, 'uploading provrace-3.0.0.tgz.prov');
  assert.match(e2.message, 'HTTP 500 (the server refused the content as a provenance file): invalid provenance file');
  await sink.close();
});

test('forcing a chart without .prov over one with: CHART_CONFLICT before anything is sent (the .prov would stay and sign the old bytes); signed over signed replaces both', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const s = await pack('stale', '1.0.0', { sign: true });
  assert.is(await sink.put(s, { force: false }), 'uploaded');
  const u = await pack('stale', '1.0.0');
  const before = (await posts(cm)).length;
  const e = await ferryError(sink.put(u, { force: true }), 'CHART_CONFLICT');
  assert.match(e.message, 'stale-1.0.0.tgz.prov');
  assert.match(e.message, 'DELETE /api/charts/stale/1.0.0');
  assert.is((await posts(cm)).length, before, 'nothing sent');
  assert.ok((await stored(cm, 'stale-1.0.0.tgz'))?.equals(s.archive));
  assert.ok((await stored(cm, 'stale-1.0.0.tgz.prov'))?.equals(s.provenance!));
  const s3 = await pack('stale', '1.0.0', { sign: true });
  assert.is(await sink.put(s3, { force: true }), 'uploaded');
  assert.ok((await stored(cm, 'stale-1.0.0.tgz'))?.equals(s3.archive));
  assert.ok((await stored(cm, 'stale-1.0.0.tgz.prov'))?.equals(s3.provenance!));
  assert.ok((await helmPulls(sink.repoUrl, s3, { auth: true, keyring: keys.pubring })).tgz.equals(s3.archive));
  await sink.close();
});

test('other bytes under the same version: check says different; CHART_CONFLICT without force and nothing sent; force replaces it', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const a = await pack('web', '2.0.0');
  const b = await pack('web', '2.0.0');
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  const st = await sink.check(b);
  assert.is(st.state, 'different');
  assert.match(st.state === 'different' ? st.detail : '', a.digest);
  const before = (await posts(cm)).length;
  const e = await ferryError(sink.put(b, { force: false }), 'CHART_CONFLICT');
  assert.match(e.message, a.digest);
  assert.match(e.message, 'nothing was replaced');
  assert.is((await posts(cm)).length, before, 'nothing sent for the refused put');
  assert.ok((await stored(cm, 'web-2.0.0.tgz'))?.equals(a.archive));
  // This server refuses an existing version without ?force (409), so the replace shows ?force was sent.
  assert.is(await sink.put(b, { force: true }), 'uploaded');
  assert.ok((await stored(cm, 'web-2.0.0.tgz'))?.equals(b.archive), 'replaced');
  assert.equal(await sink.check(b), { state: 'same' });
  assert.ok((await helmPulls(sink.repoUrl, b, { auth: true })).tgz.equals(b.archive), 'helm pulls the replacement');
  await sink.close();
});

test('409 race: another client stores the chart between the look and the POST; the same bytes are skipped, other bytes CHART_CONFLICT, or replaced when forced', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const a = await pack('race', '1.0.0');
  raceAfterLook(sink, () => otherUpload(cm, a, { auth: true }));
  assert.is(await sink.put(a, { force: false }), 'skipped');
  const seen = (await posts(cm)).slice(-2).map((r) => r.status);
  assert.equal(seen, [201, 409], 'the other upload, then the server refused ours');

  const sink2 = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const b = await pack('race', '2.0.0', { sign: true });
  const theirs = await pack('race', '2.0.0');
  raceAfterLook(sink2, () => otherUpload(cm, theirs, { auth: true }));
  const e = await ferryError(sink2.put(b, { force: false }), 'CHART_CONFLICT');
  assert.match(e.message, theirs.digest);
  assert.ok((await stored(cm, 'race-2.0.0.tgz'))?.equals(theirs.archive), 'theirs stays');

  const sink3 = new ChartmuseumSink(`chartmuseum+${cm.url}`, { ...CREDS, ...fast });
  const c = await pack('race', '3.0.0');
  const theirs3 = await pack('race', '3.0.0');
  raceAfterLook(sink3, () => otherUpload(cm, theirs3, { auth: true }));
  assert.is(await sink3.put(c, { force: true }), 'uploaded');
  assert.ok((await stored(cm, 'race-3.0.0.tgz'))?.equals(c.archive), 'forced: ours replaced theirs');
  await Promise.all([sink.close(), sink2.close(), sink3.close()]);
});

test('--disable-force-overwrite: force is a CHART_CONFLICT that names the flag and the server\'s answer; nothing replaced', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${strict.url}/nf`, fast);
  const a = await pack('locked', '1.0.0');
  const b = await pack('locked', '1.0.0');
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  await ferryError(sink.put(b, { force: false }), 'CHART_CONFLICT');
  const e = await ferryError(sink.put(b, { force: true }), 'CHART_CONFLICT');
  assert.match(e.message, '--disable-force-overwrite');
  assert.match(e.message, 'file already exists');
  assert.match(e.message, 'DELETE /api/nf/charts/locked/1.0.0');
  assert.ok((await stored(strict, 'locked-1.0.0.tgz', 'nf'))?.equals(a.archive), 'the first upload stays');

  // The same refusal in a race: the look finds nothing, another client stores other bytes, the
  // POST is a 409, the second look finds them, and the forced POST is refused again.
  const c = await pack('locked', '2.0.0');
  const theirs = await pack('locked', '2.0.0');
  raceAfterLook(sink, () => otherUpload(strict, theirs, { repo: 'nf' }));
  const e2 = await ferryError(sink.put(c, { force: true }), 'CHART_CONFLICT');
  assert.match(e2.message, '--disable-force-overwrite');
  assert.equal((await posts(strict)).filter((r) => r.path === '/api/nf/charts').slice(-3).map((r) => r.status), [201, 409, 409]);
  assert.ok((await stored(strict, 'locked-2.0.0.tgz', 'nf'))?.equals(theirs.archive), 'theirs stays');
  await sink.close();
});

test('--allow-overwrite (over TLS with the CA file): a different chart is never silently replaced without force; with force it is', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${overwrite.url}`, { caFile: overwrite.caFile!, ...fast });
  await sink.preflight();
  const a = await pack('open', '1.0.0');
  const b = await pack('open', '1.0.0');
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  const before = (await posts(overwrite)).length;
  // This server would take a plain POST of b with 201 and replace a: only the sink's look stops it.
  await ferryError(sink.put(b, { force: false }), 'CHART_CONFLICT');
  assert.is((await posts(overwrite)).length, before, 'nothing sent');
  assert.ok((await stored(overwrite, 'open-1.0.0.tgz'))?.equals(a.archive), 'not replaced');
  assert.is(await sink.put(b, { force: true }), 'uploaded');
  assert.ok((await stored(overwrite, 'open-1.0.0.tgz'))?.equals(b.archive), 'forced: replaced');
  assert.ok((await helmPulls(sink.repoUrl, b, { caFile: overwrite.caFile! })).tgz.equals(b.archive));
  await sink.close();

  // The test CA is trusted only when given.
  const untrusting = new ChartmuseumSink(`chartmuseum+${overwrite.url}`, fast);
  await ferryError(untrusting.preflight(), 'REGISTRY_TLS');
  await ferryError(untrusting.put(a, { force: false }), 'REGISTRY_TLS');
  await untrusting.close();
});

test('--depth 1: the tenant path for the API, the files and helm; tenants are separate; a + in the version', async () => {
  const ta = new ChartmuseumSink(`chartmuseum+${strict.url}/team-a`, fast);
  const tb = new ChartmuseumSink(`chartmuseum+${strict.url}/team-b/`, fast);
  await ta.preflight();
  await tb.preflight();
  const a = await pack('svc', '1.0.0+build.1');
  const b = await pack('svc', '1.0.0+build.1');
  assert.is(await ta.put(a, { force: false }), 'uploaded');
  assert.ok((await stored(strict, 'svc-1.0.0+build.1.tgz', 'team-a'))?.equals(a.archive), 'under team-a/');
  assert.equal(await tb.check(b), { state: 'absent' }, 'team-b is another repository');
  assert.is(await tb.put(b, { force: false }), 'uploaded');
  assert.ok((await stored(strict, 'svc-1.0.0+build.1.tgz', 'team-b'))?.equals(b.archive));
  assert.equal(await ta.check(a), { state: 'same' });
  assert.is((await ta.check(b)).state, 'different');
  const paths = (await served(strict)).map((r) => `${r.method} ${r.path}`);
  assert.ok(paths.includes('POST /api/team-a/charts'), paths.join('\n'));
  assert.ok(paths.includes('POST /api/team-b/charts'), paths.join('\n'));
  assert.is(ta.locationOf(a), `${strict.url}/team-a/svc`);
  assert.is(tb.repoUrl, `${strict.url}/team-b`);
  assert.ok((await helmPulls(ta.repoUrl, a)).tgz.equals(a.archive), 'helm pull from /team-a');
  assert.ok((await helmPulls(tb.repoUrl, b)).tgz.equals(b.archive), 'helm pull from /team-b');
  await Promise.all([ta.close(), tb.close()]);
});

test('a version the server matches only loosely (semver ignores build metadata) is absent, with no note', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${strict.url}/loose`, fast);
  const one = await pack('meta', '2.0.0+build.1');
  const two = await pack('meta', '2.0.0+build.2');
  const plain = await pack('meta', '2.0.0');
  assert.is(await sink.put(one, { force: false }), 'uploaded');
  // GET /api/loose/charts/meta/2.0.0+build.2 answers 200 with 2.0.0+build.1: the API looks
  // versions up as semver constraints, which ignore build metadata.
  const api = await fetch(`${strict.url}/api/loose/charts/meta/${encodeURIComponent(two.version)}`);
  assert.is(((await api.json()) as { version: string }).version, '2.0.0+build.1');
  assert.equal(await sink.check(two), { state: 'absent' });
  assert.equal(await sink.check(plain), { state: 'absent' });
  assert.is(await sink.put(two, { force: false }), 'uploaded');
  assert.ok((await stored(strict, 'meta-2.0.0+build.2.tgz', 'loose'))?.equals(two.archive));
  assert.ok((await stored(strict, 'meta-2.0.0+build.1.tgz', 'loose'))?.equals(one.archive), 'the other build untouched');
  assert.equal(sink.notes, [], 'no note about a version "listed but unreadable"');
  await sink.close();
});

test('a repository path that does not fit the server\'s --depth: preflight and put say so', async () => {
  const noTenant = new ChartmuseumSink(`chartmuseum+${strict.url}`, fast);
  const e = await ferryError(noTenant.preflight(), 'CHART_REPO_ERROR');
  assert.match(e.message, 'has no chart API at /api/charts (HTTP 404)');
  assert.match(e.message, 'as many path segments as its --depth, and this destination gives none');
  const e2 = await ferryError(noTenant.put(await pack('nowhere', '1.0.0'), { force: false }), 'CHART_REPO_ERROR');
  assert.match(e2.message, '--depth');
  await noTenant.close();
  const extra = new ChartmuseumSink(`chartmuseum+${cm.url}/org`, { ...CREDS, ...fast });
  const e3 = await ferryError(extra.preflight(), 'CHART_REPO_ERROR');
  assert.match(e3.message, '--depth');
  assert.match(e3.message, `gives 1 ("org")`);
  await extra.close();
});

test('--chart-post-form-field-name / --prov-post-form-field-name: chartField and provField are the names sent', async () => {
  const s = await pack('fields', '1.0.0', { sign: true });
  const sink = new ChartmuseumSink(`chartmuseum+${strict.url}/ff`, { chartField: 'pkg', provField: 'sig', ...fast });
  assert.is(await sink.put(s, { force: false }), 'uploaded');
  assert.ok((await stored(strict, 'fields-1.0.0.tgz', 'ff'))?.equals(s.archive));
  assert.ok((await stored(strict, 'fields-1.0.0.tgz.prov', 'ff'))?.equals(s.provenance!));
  await sink.close();
  // A server that reads only its default names (chart, prov) finds no chart under `pkg`.
  const misnamed = new ChartmuseumSink(`chartmuseum+${cm.url}`, { chartField: 'pkg', provField: 'sig', ...CREDS, ...fast });
  const e = await ferryError(misnamed.put(s, { force: false }), 'CHART_REPO_ERROR');
  assert.match(e.message, 'HTTP 400');
  assert.match(e.message, 'no package or provenance file found in form fields chart and prov');
  await misnamed.close();
});

test('the server\'s own 507 (--max-storage-objects), 413 (--max-upload-size) and 400 (not a chart): CHART_REPO_ERROR with its message, bounded', async () => {
  const sink = new ChartmuseumSink(`chartmuseum+${small.url}`, fast);
  // index-cache.yaml is one of the two objects: one chart fills the repository.
  assert.is(await sink.put(await pack('first', '1.0.0'), { force: false }), 'uploaded');
  const e = await ferryError(sink.put(await pack('second', '1.0.0'), { force: false }), 'CHART_REPO_ERROR');
  assert.match(e.message, 'HTTP 507');
  assert.match(e.message, 'the server reached its storage limit');
  assert.match(e.message, 'repo has reached storage limit');
  assert.is(await stored(small, 'second-1.0.0.tgz'), undefined);

  const big = await pack('big', '1.0.0', { values: `blob: ${randomBytes(20000).toString('base64')}\n` });
  assert.ok(big.archive.length > 16384, `${big.archive.length} bytes`);
  const e2 = await ferryError(sink.put(big, { force: false }), 'CHART_REPO_ERROR');
  assert.match(e2.message, 'HTTP 413');
  assert.match(e2.message, '--max-upload-size');
  assert.match(e2.message, 'request too large');

  // chartmuseum quotes the bad version back; 3000 characters of it must not make a 3000-character error.
  const archive = await packChart('bad', `"1.0.0 ${'x'.repeat(3000)}"`);
  const bad: ChartUpload = { ...big, name: 'bad', version: '1.0.0', archive, digest: sha256Digest(archive), metadata: { apiVersion: 'v2', name: 'bad', version: '1.0.0' } };
  const e3 = await ferryError(sink.put(bad, { force: false }), 'CHART_REPO_ERROR');
  assert.match(e3.message, 'HTTP 400', e3.message);
  assert.match(e3.message, 'refused the content as a chart');
  assert.match(e3.message, 'chart.metadata.version');
  assert.ok(e3.message.length < 1000, `bounded: ${e3.message.length} characters`);
  await sink.close();
});

test('not ChartMuseum: a web server whose /health is a page is refused by preflight, saying so', async () => {
  await writeFile(join(web.root, 'health'), '<html>nginx</html>\n');
  const sink = new ChartmuseumSink(`chartmuseum+${web.url}`, fast);
  const e = await ferryError(sink.preflight(), 'CHART_REPO_ERROR');
  assert.match(e.message, 'the answer is not ChartMuseum\'s {"healthy":true}');
  assert.match(e.message, `is ${web.url} a ChartMuseum server?`);
  await sink.close();
});

test.run();
