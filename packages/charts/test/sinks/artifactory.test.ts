// ArtifactorySink against the recording server of Artifactory's documented deploy API
// (test/harness/artifactory.ts; no real Artifactory can run here): look first, checksum deploy
// before any bytes, the full deploy with checksums on 404, skipped when the same content is
// there, CHART_CONFLICT for other content unless forced, an overwrite refusal and a checksum
// rejection told apart, Basic and bearer auth, and the reindex once at the end.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { sha256Digest } from '@ferry/format-spec';
import { startArtifactory, type StartedArtifactory } from '../../../../test/harness/artifactory.js';
import { ArtifactorySink, parseArtifactoryDestination } from '../../src/sinks/artifactory.js';
import type { ChartUpload } from '../../src/types.js';
import { ferryError, packChart } from '../fixtures.js';

const USER = 'deployer';
const PASSWORD = 'Art1fact-pw!';
const TOKEN = 'art-access-token-0123456789';
const SECRETS = [PASSWORD, TOKEN, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];
const fast = { attempts: 1 };

const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

async function chart(name: string, version: string, salt = '', prov = true): Promise<ChartUpload> {
  const archive = await packChart(name, version, salt);
  return {
    name, version, archive, digest: sha256Digest(archive),
    ...(prov ? { provenance: Buffer.from(`-----BEGIN PGP SIGNED MESSAGE-----\n${name} ${version}${salt}\n`) } : {}),
    oci: { manifest: Buffer.alloc(0), manifestDigest: '', manifestMediaType: '', config: Buffer.alloc(0), configDigest: '' },
    metadata: { apiVersion: 'v2', name, version },
  };
}

let art: StartedArtifactory;
test.before(async () => { art = await startArtifactory({ basicAuth: { user: USER, password: PASSWORD }, token: TOKEN }); });
test.after(async () => { await art.stop(); });
test.before.each(() => { art.requests.length = 0; });

const puts = () => art.requests.filter((r) => r.method === 'PUT');

test('destination parsing', async () => {
  const d = parseArtifactoryDestination('artifactory+https://jf.example.com/artifactory/helm-local/team/x');
  assert.is(d.server.href, 'https://jf.example.com/');
  assert.is(d.contextPath, '/artifactory');
  assert.is(d.repo, 'helm-local');
  assert.is(d.folder, 'team/x');
  assert.is(parseArtifactoryDestination('artifactory+http://h:8082/proxy/artifactory/r').contextPath, '/proxy/artifactory');
  await ferryError(Promise.resolve().then(() => parseArtifactoryDestination('artifactory+https://h/helm-local')), 'USAGE');
  await ferryError(Promise.resolve().then(() => parseArtifactoryDestination('https://h/artifactory/r')), 'USAGE');
  await ferryError(Promise.resolve().then(() => parseArtifactoryDestination('artifactory+https://h/artifactory/api/x')), 'USAGE');
});

test('new chart: HEAD, checksum deploy (no body) answered 404, then the bytes with both checksums; .prov the same; reindex once', async () => {
  const sink = new ArtifactorySink(`artifactory+${art.url}/helm-local`, { creds: `${USER}:${PASSWORD}`, ...fast });
  const c = await chart('web', '1.0.0');
  await sink.preflight();
  art.requests.length = 0;
  assert.equal(await sink.check(c), { state: 'absent' });
  assert.is(await sink.put(c, { force: false }), 'uploaded');
  const p = puts();
  assert.is(p.length, 4);
  assert.equal(p.map((r) => [r.path, r.headers['x-checksum-deploy'] ?? '', r.bodyBytes, r.status]), [
    ['/artifactory/helm-local/web-1.0.0.tgz', 'true', 0, 404],
    ['/artifactory/helm-local/web-1.0.0.tgz', '', c.archive.length, 201],
    ['/artifactory/helm-local/web-1.0.0.tgz.prov', 'true', 0, 404],
    ['/artifactory/helm-local/web-1.0.0.tgz.prov', '', c.provenance!.length, 201],
  ]);
  for (const r of p) {
    assert.is(r.headers.authorization, 'Basic');
    const data = r.path.endsWith('.prov') ? c.provenance! : c.archive;
    assert.is(r.headers['x-checksum-sha256'], sha('sha256', data));
    assert.is(r.headers['x-checksum-sha1'], sha('sha1', data));
  }
  assert.ok(art.files.get('helm-local/web-1.0.0.tgz')!.bytes.equals(c.archive));
  assert.equal(await sink.check(c), { state: 'same' });
  assert.is(await sink.put(c, { force: false }), 'skipped');
  assert.is(puts().length, 4, 'nothing deployed the second time');
  await sink.finish();
  assert.equal(art.reindexed, ['helm-local']);
  assert.is(sink.locationOf(c), `${new URL(art.url).origin}/artifactory/api/helm/helm-local/web`);
  await sink.close();
});

test('content Artifactory already holds elsewhere: the checksum deploy (201) sends no bytes; bearer token via --creds :TOKEN', async () => {
  const c = await chart('shared', '2.0.0', '', false);
  const first = new ArtifactorySink(`artifactory+${art.url}/helm-local/a`, { bearerToken: TOKEN, ...fast });
  assert.is(await first.put(c, { force: false }), 'uploaded');
  await first.close();
  art.requests.length = 0;
  const second = new ArtifactorySink(`artifactory+${art.url}/helm-local/b`, { creds: `:${TOKEN}`, ...fast });
  assert.is(await second.put(c, { force: false }), 'uploaded');
  const p = puts();
  assert.equal(p.map((r) => [r.path, r.headers['x-checksum-deploy'], r.bodyBytes, r.status, r.headers.authorization]), [
    ['/artifactory/helm-local/b/shared-2.0.0.tgz', 'true', 0, 201, 'Bearer'],
  ]);
  assert.ok(art.files.get('helm-local/b/shared-2.0.0.tgz')!.bytes.equals(c.archive));
  await second.close();
});

test('other content under the same name: CHART_CONFLICT without --force (nothing sent), replaced with it', async () => {
  const sink = new ArtifactorySink(`artifactory+${art.url}/helm-local/c`, { creds: `${USER}:${PASSWORD}`, ...fast });
  const a = await chart('api', '1.0.0');
  const b = await chart('api', '1.0.0', ' rebuilt');
  assert.is(await sink.put(a, { force: false }), 'uploaded');
  art.requests.length = 0;
  const st = await sink.check(b);
  assert.is(st.state, 'different');
  assert.match((st as { detail: string }).detail, a.digest);
  const e = await ferryError(sink.put(b, { force: false }), 'CHART_CONFLICT', SECRETS);
  assert.match(e.message, 'api-1.0.0.tgz already exists with other content');
  assert.is(puts().length, 0);
  assert.is(await sink.put(b, { force: true }), 'uploaded');
  assert.ok(art.files.get('helm-local/c/api-1.0.0.tgz')!.bytes.equals(b.archive));
  assert.ok(art.files.get('helm-local/c/api-1.0.0.tgz.prov')!.bytes.equals(b.provenance!));
  await sink.close();
});

test('an account that may not overwrite: --force ends in CHART_CONFLICT saying so', async () => {
  const strict = await startArtifactory({ basicAuth: { user: USER, password: PASSWORD }, noOverwrite: true });
  const sink = new ArtifactorySink(`artifactory+${strict.url}/helm-local`, { creds: `${USER}:${PASSWORD}`, ...fast });
  await sink.put(await chart('db', '1.0.0', '', false), { force: false });
  const e = await ferryError(sink.put(await chart('db', '1.0.0', ' v2', false), { force: true }), 'CHART_CONFLICT', SECRETS);
  assert.match(e.message, 'refused to overwrite');
  assert.match(e.message, 'overwrite is not permitted');
  await sink.close();
  await strict.stop();
});

test('checksums that do not match the bytes: the 409 is a CHART_REPO_ERROR quoting the checksum policy, not a conflict', async () => {
  const sink = new ArtifactorySink(`artifactory+${art.url}/helm-local/d`, { creds: `${USER}:${PASSWORD}`, ...fast });
  const c = await chart('tamper', '1.0.0', '', false);
  // A proxy that changes the body in flight: the checksums the sink sends no longer match the bytes.
  const orig = sink.http.send.bind(sink.http);
  sink.http.send = (req) => orig(req.body ? { ...req, body: Buffer.concat([req.body, Buffer.from('x')]) } : req);
  const e = await ferryError(sink.put(c, { force: false }), 'CHART_REPO_ERROR', SECRETS);
  assert.match(e.message, 'HTTP 409');
  assert.match(e.message, 'Checksum policy');
  assert.is(art.files.has('helm-local/d/tamper-1.0.0.tgz'), false);
  await sink.close();
});

test('auth: wrong password REGISTRY_AUTH without the secret; anonymous refused', async () => {
  const wrong = new ArtifactorySink(`artifactory+${art.url}/helm-local`, { creds: `${USER}:nope-${PASSWORD}`, ...fast });
  const e = await ferryError(wrong.preflight(), 'REGISTRY_AUTH', [...SECRETS, `nope-${PASSWORD}`]);
  assert.match(e.message, 'Artifactory');
  assert.match(e.message, 'rejected the credentials');
  await wrong.close();
  const anon = new ArtifactorySink(`artifactory+${art.url}/helm-local`, fast);
  await ferryError(anon.put(await chart('x', '1.0.0'), { force: false }), 'REGISTRY_AUTH');
  await anon.close();
});

test('preflight: a checksum deploy of random content, answered 404, stores nothing', async () => {
  const sink = new ArtifactorySink(`artifactory+${art.url}/helm-local/pre`, { creds: `${USER}:${PASSWORD}`, ...fast });
  const before = art.files.size;
  await sink.preflight();
  assert.is(art.requests.length, 1);
  assert.is(art.requests[0]!.headers['x-checksum-deploy'], 'true');
  assert.is(art.requests[0]!.status, 404);
  assert.is(art.files.size, before);
  await sink.finish();
  assert.equal(art.reindexed.filter((r) => r === 'helm-local').length, 1, 'no reindex when nothing was deployed');
  await sink.close();
});

test.run();
