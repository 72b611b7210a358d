// The registry walk against a hostile (fake) registry: catalog pages followed by Link, names and
// tags that are not names skipped, a repository and a tag that vanish mid-walk skipped, and
// descriptors no inventory may vouch for (negative, unsafe or fractional sizes, other digest
// algorithms, foreign layers) left out; a digest described with two sizes keeps the first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { inventoryBytes, isFerryError, parseInventory } from '@ferry/format-spec';
import { registryInventory } from '../../src/inventory/registry.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const layerType = 'application/vnd.oci.image.layer.v1.tar+gzip';

const appManifest = Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: OCI,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('c'), size: 100 },
  layers: [
    { mediaType: layerType, digest: d('a'), size: 1000 },
    { mediaType: layerType, digest: d('b'), size: -5 },
    { mediaType: layerType, digest: d('e'), size: 2 ** 60 },
    { mediaType: layerType, digest: d('f'), size: 1.5 },
    { mediaType: layerType, digest: `sha512:${'1'.repeat(128)}`, size: 10 },
    { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('9'), size: 10, urls: ['https://example.com/x'] },
  ],
}));
const otherManifest = Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: OCI,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('d'), size: 50 },
  layers: [{ mediaType: layerType, digest: d('a'), size: 999 }],
}));

let server: http.Server;
let host = '';
let catalogCalls = 0;

test.before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const manifest = (bytes: Buffer) => {
      res.writeHead(200, { 'Content-Type': OCI, 'Docker-Content-Digest': sha(bytes), 'Content-Length': bytes.length });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    };
    const p = url.pathname;
    if (p === '/v2/') return json(200, {});
    if (p === '/v2/_catalog') {
      catalogCalls++;
      if (!url.searchParams.get('last')) return json(200, { repositories: ['good/app', 'BAD NAME', 'gone', 42] }, { Link: '</v2/_catalog?last=gone&n=1000>; rel="next"' });
      return json(200, { repositories: ['other/x'] });
    }
    if (p === '/v2/good/app/tags/list') return json(200, { name: 'good/app', tags: ['1', 'bad tag!', 'vanished', '1'] });
    if (p === '/v2/other/x/tags/list') return json(200, { name: 'other/x', tags: ['1'] });
    if (p === '/v2/good/app/manifests/1') return manifest(appManifest);
    if (p === '/v2/other/x/manifests/1') return manifest(otherManifest);
    return json(404, { errors: [{ code: p.includes('/tags/') ? 'NAME_UNKNOWN' : 'MANIFEST_UNKNOWN', message: 'not here' }] });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.after(() => {
  server.close();
});

test('hostile content is left out, vanished repositories and tags skipped, catalog pages followed', async () => {
  const warnings: string[] = [];
  const inv = await registryInventory({ registry: host, prefix: '', options: { insecure: [host], attempts: 1 }, concurrency: 1, warn: (m) => warnings.push(m) });
  assert.is(catalogCalls, 2, 'both catalog pages');
  assert.equal(inv.repositories.map((r) => [r.name, r.tags]), [['good/app', { '1': sha(appManifest) }], ['other/x', { '1': sha(otherManifest) }]]);
  const blobs = new Map(inv.blobs.map((b) => [b.digest, b]));
  assert.equal([...blobs.keys()].sort(), [sha(appManifest), sha(otherManifest), d('a'), d('c'), d('d')].sort());
  assert.is(blobs.get(d('a'))!.size, 1000, 'the first size seen is kept');
  assert.equal(blobs.get(d('a'))!.repositories, ['good/app', 'other/x']);
  for (const re of [/BAD NAME/, /gone.*no tags/, /bad tag!.*skipped|skipped.*bad tag!/, /vanished skipped/, /5 descriptor\(s\)/, /size 999 and 1000/]) {
    assert.ok(warnings.some((w) => re.test(w)), `${re} in:\n${warnings.join('\n')}`);
  }
  // What was found is a valid inventory.
  assert.is(parseInventory(inventoryBytes(inv), 'x').blobs.length, 5);
});

test('--repos naming a repository the registry does not have is an error, not a silent skip', async () => {
  try {
    await registryInventory({ registry: host, prefix: '', repos: ['gone'], options: { insecure: [host], attempts: 1 }, concurrency: 1, warn: () => undefined });
    assert.unreachable();
  } catch (e) {
    assert.ok(isFerryError(e, 'SOURCE_NOT_FOUND'), String(e));
  }
});

test.run();
