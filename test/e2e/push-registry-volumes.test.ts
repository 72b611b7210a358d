// Loading into a real registry (Debian's docker-registry) volume by volume: a layer split across
// volumes, volumes in any order and over several runs, two repositories sharing an image (sent
// once, mounted once), the disc swap at the terminal (tmux), and `check` reading it all back.
// skopeo is the independent reader of what landed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeOciLayout } from '../helpers/images.js';
import { bundleCli, loadCli, sh } from '../helpers/cli.js';
import { startRegistry, type StartedRegistry } from '../harness/registry.js';
import { startProxy, type Proxy } from '../harness/proxy.js';
import type { BundleManifest } from '@ferry/format-spec';
import { reportValidator } from '../helpers/report-schemas.js';

const loader = fileURLToPath(new URL('../../packages/loader/bin/ferry-load.js', import.meta.url));
let tmp = '';
let bundle = '';
let manifest: BundleManifest;
const registries: StartedRegistry[] = [];
const proxies: Proxy[] = [];

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-push-reg-vol-'));
  await makeOciLayout(join(tmp, 'src'), [
    // 2.5 MiB of incompressible layer in 1 MiB volumes: split across three volumes.
    { tag: 'big', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 2_500_000, seed: 'rv-big', gzipLevel: 0 }, { size: 4_000, seed: 'rv-base' }] }] },
    { tag: 'small', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 4_000, seed: 'rv-base' }, { size: 300_000, seed: 'rv-small', gzipLevel: 0 }] }] },
  ]);
  assert.is((await bundleCli(['keygen', '--no-password', '--out', join(tmp, 'k')])).code, 0);
  const spec = [
    'schemaVersion: 1',
    'name: rv',
    'volumeSize: 1MiB',
    'images:',
    `  - source: oci:${join(tmp, 'src')}:big`,
    '    name: team/big:1.0',
    `  - source: oci:${join(tmp, 'src')}:small`,
    '    name: team/small:1.0',
    `  - source: oci:${join(tmp, 'src')}:small`,
    '    name: other/small:1.0',
  ].join('\n');
  await writeFile(join(tmp, 'spec.yaml'), spec + '\n');
  bundle = join(tmp, 'bundle');
  const r = await bundleCli(['create', join(tmp, 'spec.yaml'), '--out', bundle, '--key', join(tmp, 'k.key')]);
  assert.is(r.code, 0, r.stderr);
  manifest = JSON.parse(await readFile(join(bundle, 'rv.manifest.json'), 'utf8')) as BundleManifest;
  assert.ok(manifest.volumes.length >= 3, `expected several volumes, got ${manifest.volumes.length}`);
  assert.ok(manifest.blobs.some((b) => (b.segments?.length ?? 0) >= 2), 'the big layer is split');
});

test.after(async () => {
  for (const p of proxies) await p.stop();
  for (const r of registries) await r.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function registry(): Promise<StartedRegistry> {
  const r = await startRegistry();
  registries.push(r);
  return r;
}

const reportSchema = reportValidator('push-report');

/** push --json; every report it prints must match schemas/push-report.schema.json. */
async function push(host: string, state: string, extra: string[] = []) {
  const r = await loadCli(['push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', host, '--insecure-registry', host, '--state-dir', state, '--yes', '--json', ...extra]);
  if (r.stdout.trim()) {
    const doc = JSON.parse(r.stdout) as unknown;
    assert.ok(reportSchema(doc), `report matches the schema: ${JSON.stringify(reportSchema.errors)}`);
  }
  return r;
}

async function digestOf(host: string, ref: string): Promise<string | undefined> {
  const r = await sh(`skopeo inspect --raw --tls-verify=false docker://${host}/${ref} | sha256sum`);
  return r.code === 0 ? `sha256:${r.stdout.split(' ')[0]}` : undefined;
}

async function assertAllLoaded(host: string): Promise<void> {
  for (const img of manifest.images) {
    const ref = `${img.repository}:${img.tag}`;
    assert.is(await digestOf(host, ref), img.digest, `${ref} in the registry has the bundled digest`);
    const copy = await sh(`skopeo copy -q --src-tls-verify=false docker://${host}/${ref} oci:${join(tmp, 'readback')}:x`);
    assert.is(copy.code, 0, `skopeo reads every blob of ${ref}: ${copy.stderr}`);
  }
}

test('volumes in reverse order over several runs: each run loads what it can, tags only complete images, the last completes', async () => {
  const reg = await registry();
  const state = join(tmp, 'state-reverse');
  const away = join(tmp, 'away');
  await mkdir(away, { recursive: true });
  const files = manifest.volumes.map((v) => v.file);
  // Only the last volume first.
  for (const f of files.slice(0, -1)) await rename(join(bundle, f), join(away, f));
  try {
    const r1 = await push(reg.host, state);
    assert.is(r1.code, 15, `INCOMPLETE: ${r1.stdout}${r1.stderr}`);
    const j1 = JSON.parse(r1.stdout) as { images: Array<{ ref: string; status: string }>; volumesMissing: string[]; complete: boolean };
    assert.not.ok(j1.complete);
    assert.ok(j1.volumesMissing.length > 0);
    for (const img of manifest.images) {
      const st = j1.images.find((i) => i.ref.endsWith(`${img.repository}:${img.tag}`))!.status;
      const d = await digestOf(reg.host, `${img.repository}:${img.tag}`);
      if (st === 'loaded') assert.is(d, img.digest);
      else {
        assert.is(d, undefined, `${img.repository} is not tagged while incomplete`);
        // nor is its manifest anywhere in the registry, not even by digest or as a stray blob
        assert.is(await digestOf(reg.host, `${img.repository}@${img.digest}`), undefined, 'no manifest by digest');
        const blob = await sh(`curl -s -o /dev/null -w '%{http_code}' -I http://${reg.host}/v2/${img.repository}/blobs/${img.digest}`);
        assert.is(blob.stdout.trim(), '404', 'no manifest staged as a blob in the registry');
      }
    }
    // Then the others, one run each, last to first.
    for (const f of files.slice(0, -1).reverse()) {
      await rename(join(away, f), join(bundle, f));
      const r = await push(reg.host, state);
      assert.ok(r.code === 0 || r.code === 15, r.stdout + r.stderr);
    }
    const last = JSON.parse((await push(reg.host, state)).stdout) as { complete: boolean; blobsWritten: number };
    assert.ok(last.complete);
    assert.is(last.blobsWritten, 0, 'a run after completion sends nothing');
  } finally {
    for (const f of files) await rename(join(away, f), join(bundle, f)).catch(() => undefined);
  }
  await assertAllLoaded(reg.host);
  const chk = await loadCli(['check', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', reg.host, '--insecure-registry', reg.host]);
  assert.is(chk.code, 0, chk.stdout + chk.stderr);
});

test('two repositories share an image: each blob is sent once and mounted into the other repository', async () => {
  const reg = await registry();
  const proxy = await startProxy(reg.host);
  proxies.push(proxy);
  const r = await push(proxy.host, join(tmp, 'state-mount'));
  assert.is(r.code, 0, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout) as { blobsMounted: number; check: { ok: boolean } };
  assert.ok(j.check.ok, 'the post-load check passed');
  const uploads = proxy.requests.filter((l) => /^PUT \/v2\/.+\/blobs\/uploads\//.test(l));
  const mounts = proxy.requests.filter((l) => /^POST \/v2\/.+\/blobs\/uploads\/\?mount=/.test(l));
  const small = manifest.images.find((i) => i.repository === 'team/small')!;
  const smallBlobs = small.blobs.filter((d) => manifest.blobs.find((b) => b.digest === d)!.kind !== 'manifest');
  // every distinct blob of the bundle is uploaded exactly once (manifests go only to the manifest endpoint)
  const uploaded = uploads.map((l) => /digest=(sha256(?:%3A|:)[0-9a-f]{64})/.exec(l)?.[1]?.replace('%3A', ':'));
  assert.is(new Set(uploaded).size, uploaded.length, 'no blob uploaded twice');
  for (const d of smallBlobs) {
    assert.ok(mounts.some((l) => l.includes(encodeURIComponent(d)) || l.includes(d)), `${d} was mounted into the second repository`);
  }
  assert.ok(j.blobsMounted >= smallBlobs.length);
  await assertAllLoaded(proxy.host);
  // a second run sends nothing and mounts nothing
  const before = proxy.requests.length;
  const again = await push(proxy.host, join(tmp, 'state-mount'));
  assert.is(again.code, 0, again.stderr);
  const later = proxy.requests.slice(before);
  assert.not.ok(later.some((l) => /blobs\/uploads/.test(l) && !l.startsWith('DELETE') && !/^POST \/v2\/[^?]+\/blobs\/uploads\/ HTTP/.test(l)), `nothing uploaded again: ${later.filter((l) => /uploads/.test(l)).join('\n')}`);
});



test('the interactive loader under tmux: summary, confirm, the next-volume prompt (a typed path), progress and the final report', async () => {
  const reg = await registry();
  const state = join(tmp, 'state-tty');
  const disc = join(tmp, 'disc2');
  await mkdir(disc, { recursive: true });
  const second = manifest.volumes[1]!.file;
  await rename(join(bundle, second), join(disc, second));
  const session = `ferry-${process.pid}`;
  const done = join(tmp, 'tty-exit');
  const cmd = [process.execPath, loader, 'push', bundle, '--trusted-key', join(tmp, 'k.pub'), '--to', reg.host, '--insecure-registry', reg.host, '--state-dir', state].map((a) => `'${a}'`).join(' ');
  const env = { ...process.env };
  delete env.CI;
  try {
    spawnSync('tmux', ['kill-server'], { env: { ...env, TMUX_TMPDIR: tmp } });
    const t = (args: string[]) => {
      const r = spawnSync('tmux', args, { encoding: 'utf8', env: { ...env, TMUX_TMPDIR: tmp } });
      if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    t(['new-session', '-d', '-s', session, '-x', '220', '-y', '60', `env -u CI TERM=xterm ${cmd}; echo EXIT=$? > '${done}'; sleep 30`]);
    const pane = async (re: RegExp) => {
      const end = Date.now() + 60_000;
      for (;;) {
        const p = t(['capture-pane', '-p', '-J', '-S', '-300', '-t', session]);
        if (re.test(p)) return p;
        if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${p}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const summary = await pane(/Load it\? \[y\/N\]/);
    assert.match(summary, /signature TRUSTED: signed by key sha256:[0-9a-f]{64}, which is the trusted key file/);
    assert.match(summary, /team\/big:1\.0/);
    assert.match(summary, new RegExp(`${reg.host.replace(/\./g, '\\.')}/other/small:1\\.0`), 'the name mapping is shown');
    assert.match(summary, /missing 002/);
    t(['send-keys', '-t', session, 'y', 'Enter']);
    await pane(/Insert volume 2 of \d+ \(rv-002\.tar\.zst\) and press Enter, or type its path/);
    t(['send-keys', '-t', session, disc, 'Enter']);
    const final = await pane(/Complete\. Every tag was checked in the target\./);
    assert.match(final, /✅ .*team\/big:1\.0/);
    const exit = await (async () => {
      const end = Date.now() + 10_000;
      for (;;) {
        const s = await readFile(done, 'utf8').catch(() => '');
        if (s) return s.trim();
        if (Date.now() > end) return 'none';
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    assert.is(exit, 'EXIT=0');
    t(['kill-session', '-t', session]);
  } finally {
    await rename(join(disc, second), join(bundle, second)).catch(() => undefined);
    spawnSync('tmux', ['kill-server'], { env: { ...env, TMUX_TMPDIR: tmp } });
  }
  await assertAllLoaded(reg.host);
});

test('a split layer goes straight into one upload session kept open across runs: no copy on disk; a session the registry lost starts over and names the volumes', async () => {
  const split = manifest.blobs.find((b) => (b.segments?.length ?? 0) >= 3)!;
  assert.ok(split, 'a blob in three or more segments');
  const vols = split.segments!.map((g) => g.volume);
  const lastVol = manifest.volumes[vols[vols.length - 1]! - 1]!.file;
  for (const run of ['kept', 'lost'] as const) {
    const reg = await registry();
    const proxy = await startProxy(reg.host);
    proxies.push(proxy);
    const state = join(tmp, `state-session-${run}`);
    const away = join(tmp, `away-session-${run}`);
    await mkdir(away, { recursive: true });
    await rename(join(bundle, lastVol), join(away, lastVol));
    try {
      const r1 = await push(proxy.host, state);
      assert.is(r1.code, 15, r1.stdout + r1.stderr);
      // Nothing of the split layer is on disk: only the session's small record.
      const area = join(state, `registry-${proxy.host.replace(/[^A-Za-z0-9._-]/g, '_')}`, '.ferry', 'partial');
      const names = await readdir(area);
      const hex = split.digest.slice(7);
      assert.ok(names.some((n) => n.startsWith(hex) && n.endsWith('.upload')), `a session record: ${names.join(', ')}`);
      for (const n of names) assert.ok((await stat(join(area, n))).size < 64 << 10, `${n} is a record, not a copy of the blob`);
      const patches = proxy.requests.filter((l) => l.startsWith('PATCH '));
      const sessions = new Set(patches.map((l) => /\/blobs\/uploads\/([0-9a-f-]{36})/.exec(l)?.[1]));
      assert.ok(patches.length >= vols.length - 1, 'one PATCH per segment that was here');
      if (run === 'lost') {
        // The registry loses its upload sessions (as upload purging would).
        await rm(join(reg.dir, 'data', 'docker', 'registry', 'v2', 'repositories', 'team', 'big', '_uploads'), { recursive: true, force: true });
      }
      await rename(join(away, lastVol), join(bundle, lastVol));
      const r2 = await push(proxy.host, state);
      assert.is(r2.code, 0, r2.stdout + r2.stderr);
      const j2 = JSON.parse(r2.stdout) as { notes: string[]; complete: boolean };
      if (run === 'kept') {
        assert.equal(j2.notes, []);
        const later = proxy.requests.filter((l) => l.startsWith('PATCH ')).slice(patches.length);
        const again = new Set(later.map((l) => /\/blobs\/uploads\/([0-9a-f-]{36})/.exec(l)?.[1]));
        assert.ok([...again].every((u) => sessions.has(u)), 'the second run continued the same session');
      } else {
        assert.match(j2.notes.join('\n'), new RegExp(`upload session for ${split.digest} .* is gone; it starts over: volume\\(s\\) [0-9, ]+ are needed again`));
      }
      assert.ok(j2.complete);
      assert.equal((await readdir(area)).filter((n) => n.startsWith(hex)), [], 'nothing left behind');
      await assertAllLoaded(proxy.host);
    } finally {
      await rename(join(away, lastVol), join(bundle, lastVol)).catch(() => undefined);
    }
  }
});

test('a connection dropped in the middle of an upload: the blob comes again from the volume in the same run, nothing is reported done early', async () => {
  // Over 8 MiB, so it is streamed in PATCH requests (smaller blobs are retried from memory).
  await makeOciLayout(join(tmp, 'src9'), [{ tag: 'nine', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 9_000_000, seed: 'rv-nine', gzipLevel: 0 }] }] }]);
  const whole = join(tmp, 'whole');
  const r = await bundleCli(['create', '--name', 'whole', '--image', `oci:${join(tmp, 'src9')}:nine`, '--volume-size', '64MiB', '--out', whole, '--key', join(tmp, 'k.key')]);
  assert.is(r.code, 0, r.stderr);
  const reg = await registry();
  const proxy = await startProxy(reg.host);
  proxies.push(proxy);
  // The first PATCH (the 9 MB layer, streamed) loses its connection as the answer starts.
  proxy.arm({ match: /^PATCH /, cutAfterBytes: 0 });
  const run = await loadCli(['push', whole, '--trusted-key', join(tmp, 'k.pub'), '--to', proxy.host, '--insecure-registry', proxy.host, '--state-dir', join(tmp, 'state-drop'), '--yes', '--json']);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const j = JSON.parse(run.stdout) as { complete: boolean; check: { ok: boolean } };
  assert.ok(j.complete && j.check.ok);
  const patches = proxy.requests.filter((l) => l.startsWith('PATCH '));
  assert.ok(patches.length >= 2, `the upload was sent again: ${patches.length} PATCH request(s)`);
  const m = JSON.parse(await readFile(join(whole, 'whole.manifest.json'), 'utf8')) as BundleManifest;
  for (const img of m.images) assert.is(await digestOf(reg.host, `${img.repository}:${img.tag}`), img.digest);
});

test.run();
