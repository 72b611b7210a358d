// The OCI chart source and sink with the real helm (v3.22.0) on both ends, through the real
// docker-registry: `helm push` (with a .prov from `helm package --sign`) → fetchOciChart →
// OciChartSink into another registry (htpasswd + TLS) → `helm pull oci://…` and
// `helm pull --verify`: same manifest digest as helm's own push, same bytes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '@ferry/format-spec';
import { startRegistry, type StartedRegistry } from '../../../test/harness/registry.js';
import { makeChart, makeSigningKeyring, newHelm, type HelmClient, type PackagedChart, type SigningKeyring } from '../../../test/harness/helm.js';
import { fetchOciChart } from '../src/oci-source.js';
import { OciChartSink } from '../src/sinks/oci.js';
import type { ChartUpload, FetchedChart } from '../src/types.js';

const USER = 'pusher';
const PASSWORD = 'Helm-0ci-pw!';
const fast = { attempts: 2, backoffMs: 1 };

let tmp = '';
let h: HelmClient;
let src: StartedRegistry;
let dst: StartedRegistry;
let keys: SigningKeyring;
let signed: PackagedChart;
let plus: PackagedChart;

function upload(f: FetchedChart, name: string, version: string): ChartUpload {
  const o = f.oci!;
  return {
    name, version, archive: f.archive, digest: sha256Digest(f.archive), ...(f.provenance ? { provenance: f.provenance } : {}),
    oci: { manifest: o.manifest, manifestDigest: sha256Digest(o.manifest), manifestMediaType: o.manifestMediaType, config: o.config, configDigest: sha256Digest(o.config) },
    metadata: { apiVersion: 'v2', name, version },
  };
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-helm-oci-'));
  [h, src, dst, keys] = await Promise.all([newHelm(), startRegistry(), startRegistry({ tls: true, auth: { user: USER, password: PASSWORD } }), makeSigningKeyring()]);
  await makeChart(join(tmp, 'src', 'portal'), { name: 'portal', version: '3.2.1', appVersion: '9.9' });
  signed = await h.helmPackage(join(tmp, 'src', 'portal'), join(tmp, 'pkg'), { sign: { key: keys.name, keyring: keys.secring } });
  await makeChart(join(tmp, 'src', 'plus'), { name: 'plus', version: '0.1.0+build.3' });
  plus = await h.helmPackage(join(tmp, 'src', 'plus'), join(tmp, 'pkg'));
});

test.after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), h?.cleanup()]);
  await rm(tmp, { recursive: true, force: true });
});

test('helm push → Ferry → Ferry push → helm pull --verify: same digest, same bytes', async () => {
  const pushed = await h.helmPush(signed.tgz, `oci://${src.host}/helm`, { plainHttp: true });
  const fetched = await fetchOciChart(`oci://${src.host}/helm/portal:3.2.1`, { insecure: [src.host], ...fast });
  assert.is(sha256Digest(fetched.oci!.manifest), pushed.digest);
  assert.ok(fetched.archive.equals(await readFile(signed.tgz)));
  assert.ok(fetched.provenance!.equals(await readFile(signed.prov!)));
  assert.match(fetched.created ?? '', /^\d{4}-/);

  const sink = new OciChartSink(`oci://${dst.host}/mirror`, { caFile: dst.caFile!, creds: `${USER}:${PASSWORD}`, ...fast });
  const up = upload(fetched, 'portal', '3.2.1');
  await sink.preflight([up]);
  assert.is(await sink.put(up, { force: false }), 'uploaded');
  assert.is(await sink.put(up, { force: false }), 'skipped');

  await h.helmRegistryLogin(dst.host, USER, PASSWORD, { caFile: dst.caFile! });
  const pulled = await h.helmPull(sink.locationOf(up), { version: '3.2.1', caFile: dst.caFile!, verify: { keyring: keys.pubring } });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(signed.tgz)));
  assert.match(`${pulled.stdout}\n${pulled.stderr}`, new RegExp(`Digest: ${pushed.digest}`));
  const again = await fetchOciChart(`oci://${dst.host}/mirror/portal:3.2.1`, { caFile: dst.caFile!, creds: `${USER}:${PASSWORD}`, ...fast });
  assert.ok(again.oci!.manifest.equals(fetched.oci!.manifest));
  await sink.close();
});

test('a + in the version: helm tags it _, Ferry reads it back and pushes the same tag; helm pulls it by its version', async () => {
  const pushed = await h.helmPush(plus.tgz, `oci://${src.host}/helm`, { plainHttp: true });
  assert.match(pushed.ref, /plus:0\.1\.0_build\.3$/);
  const byRange = await fetchOciChart(`oci://${src.host}/helm/plus:^0.1.0`, { insecure: [src.host], ...fast });
  assert.is(sha256Digest(byRange.oci!.manifest), pushed.digest);
  const sink = new OciChartSink(`oci://${dst.host}/mirror`, { caFile: dst.caFile!, creds: `${USER}:${PASSWORD}`, ...fast });
  assert.is(await sink.put(upload(byRange, 'plus', '0.1.0+build.3'), { force: false }), 'uploaded');
  await sink.close();
  const pulled = await h.helmPull(`oci://${dst.host}/mirror/plus`, { version: '0.1.0+build.3', caFile: dst.caFile! });
  assert.ok((await readFile(pulled.tgz)).equals(await readFile(plus.tgz)));
});

test.run();
