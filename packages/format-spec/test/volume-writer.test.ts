import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import binding from 'zstd-napi/binding.js';
import { isFerryError, type ErrorCode } from '../src/errors.js';
import type { BundleBlob } from '../src/manifest-types.js';
import { blobEntryName, frameSizes, segmentEntryName, tarLayout, volumePieces, volumeSizeBound } from '../src/plan.js';
import { planVolumes, volumeCapacity } from '../src/volume-plan.js';
import { readVolume, type VolumeEntryInfo } from '../src/volume-reader.js';
import { isPrecompressed, writeVolumes, type WriteProgress, type WriteVolumesOptions } from '../src/volume-writer.js';
import { readSeekTable } from '../src/zstd-frames.js';
import { OCI_LAYOUT, bytes, chunked, sha, tempDir, withSegmentDigests, writeTestBundle, type TestBundle } from './helpers/volumes.js';

const hexOf = (d: string): string => d.slice(7);

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, re?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(isFerryError(e, code), `expected ${code}, got ${e instanceof Error ? `${(e as { code?: string }).code} ${e.message}` : String(e)}`);
    if (re) assert.match((e as Error).message, re, (e as Error).message);
    return e as Error;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

async function readAllVolumes(b: TestBundle): Promise<Array<Array<{ info: VolumeEntryInfo; data: Buffer }>>> {
  const out: Array<Array<{ info: VolumeEntryInfo; data: Buffer }>> = [];
  for (const w of b.written) {
    const entries: Array<{ info: VolumeEntryInfo; data: Buffer }> = [];
    const res = await readVolume({
      path: w.path,
      volume: w.index,
      manifest: b.manifest,
      manifestBytes: b.manifestBytes,
      ...(b.signatureBytes ? { signatureBytes: b.signatureBytes } : {}),
      onEntry: async (info, stream) => {
        const parts: Buffer[] = [];
        for await (const c of stream) parts.push(c as Buffer);
        entries.push({ info, data: Buffer.concat(parts) });
      },
    });
    assert.is(res.entries, entries.length);
    assert.is(res.compressedBytes, w.size);
    out.push(entries);
  }
  return out;
}

test('round trip: multi-volume, a blob segmented over three volumes, zero-length blob, order kept', async () => {
  const t = await tempDir();
  try {
    const blobs = [bytes(30_000, 1), Buffer.alloc(0), bytes(700_000, 2), Buffer.alloc(20_000, 5), bytes(5000, 3)];
    const b = await writeTestBundle({ dir: t.dir, blobs, volumeSize: 320 * 1024, signed: true, chunk: 10_000 });
    assert.ok(b.written.length >= 3, `${b.written.length} volumes`);
    const seg = b.manifest.blobs[2]!;
    assert.ok(seg.segments && seg.segments.length >= 3, 'the 700 KB blob is split over 3+ volumes');
    for (const [d, n] of b.openCount) assert.is(n, 1, `${d} opened once`);
    assert.equal(await readdir(t.dir), b.written.map((w) => w.file).sort(), 'only the final volume files remain');

    const vols = await readAllVolumes(b);
    const pieces: Buffer[] = [];
    vols.forEach((entries, i) => {
      const names = entries.map((e) => e.info.name);
      assert.equal(names.slice(0, 4), ['tb.manifest.json', 'tb.manifest.json.sig', 'oci-layout', 'index.json']);
      assert.equal(names.slice(4), volumePieces(b.manifest.blobs, i + 1).map((p) => p.name), `volume ${i + 1} in plan order`);
      assert.ok(entries[0]!.data.equals(b.manifestBytes));
      assert.ok(entries[2]!.data.equals(OCI_LAYOUT));
      for (const e of entries.slice(4)) {
        if (e.info.kind === 'blob') assert.ok(e.data.equals(b.contents.get(e.info.blob!.digest)!), e.info.name);
        else pieces.push(e.data);
      }
    });
    assert.ok(Buffer.concat(pieces).equals(blobs[2]!), 'segments reassemble the blob');
    // Children first: the blob order across all volumes is the plan (= input) order.
    const order = vols.flat().filter((e) => e.info.blob).map((e) => e.info.blob!.digest);
    assert.equal([...new Set(order)], blobs.map(sha));
  } finally {
    await t.cleanup();
  }
});

test('interop: zstd -dc | tar -t lists the manifest first; extracting all volumes and cat-ing segments gives the blob', async () => {
  const t = await tempDir();
  try {
    const big = bytes(600_000, 7);
    const blobs = [bytes(1000, 1), big, bytes(3000, 2)];
    const out = join(t.dir, 'out');
    await mkdir(out);
    const b = await writeTestBundle({ dir: out, name: 'demo', blobs, volumeSize: 256 * 1024 });
    assert.ok(b.written.length >= 3);
    for (const w of b.written) {
      execFileSync('zstd', ['-tq', w.path]);
      const list = execSync(`zstd -dc '${w.path}' | tar -tvf -`, { encoding: 'utf8' }).trim().split('\n');
      assert.match(list[0]!, /^-rw-r--r-- 0\/0 .* 2024-01-01 00:00 demo\.manifest\.json$/);
      assert.equal(list.map((l) => l.split(' ').pop()).slice(1, 3), ['oci-layout', 'index.json']);
      assert.ok(list.every((l) => l.startsWith('-rw-r--r-- 0/0')), 'regular files, 0644, root');
    }
    const x = join(t.dir, 'x');
    await mkdir(x);
    for (const w of b.written) execSync(`zstd -dc '${w.path}' | tar -xf - -C '${x}'`);
    const hex = hexOf(sha(big));
    execSync(`cat segments/sha256/${hex}.* > blobs/sha256/${hex}`, { cwd: x, shell: '/bin/sh' });
    assert.ok((await readFile(join(x, 'blobs/sha256', hex))).equals(big));
    for (const small of [blobs[0]!, blobs[2]!]) assert.ok((await readFile(join(x, 'blobs/sha256', hexOf(sha(small))))).equals(small));
    assert.is(await readFile(join(x, 'oci-layout'), 'utf8'), OCI_LAYOUT.toString());
    assert.ok((await readFile(join(x, 'demo.manifest.json'))).equals(b.manifestBytes));
  } finally {
    await t.cleanup();
  }
});

test('seek table: a frame per entry, matching the frames in the file', async () => {
  const t = await tempDir();
  try {
    const b = await writeTestBundle({ dir: t.dir, blobs: [bytes(100, 1), bytes(200_000, 2), Buffer.alloc(0)], volumeSize: 1024 * 1024 });
    const w = b.written[0]!;
    const st = await readSeekTable(w.path);
    const entries = [
      { name: 'tb.manifest.json', size: b.manifestBytes.length },
      { name: 'oci-layout', size: OCI_LAYOUT.length },
      { name: 'index.json', size: b.indexBytes.length },
      ...volumePieces(b.manifest.blobs, 1),
    ];
    assert.equal(st.frames.map((f) => f.decompressedSize), frameSizes(tarLayout(entries)));
    const file = await readFile(w.path);
    let at = 0;
    for (const f of st.frames) {
      assert.is(binding.findFrameCompressedSize(file.subarray(at)), f.compressedSize);
      assert.is(f.checksum, file.readUInt32LE(at + f.compressedSize - 4), 'seek-table checksum = frame checksum');
      at += f.compressedSize;
    }
    assert.is(at + st.tableBytes, w.size);
    assert.is(w.sha256, createHash('sha256').update(file).digest('hex'), 'sha256 computed while writing');
  } finally {
    await t.cleanup();
  }
});

test('long entries are cut into several frames, each in the seek table, and still read back', async () => {
  const t = await tempDir();
  try {
    const big = bytes(3 * 1024 * 1024 + 100, 4);
    const opts = baseOptions(t.dir, [bytes(10, 1), big], 8 * 1024 * 1024);
    opts.frameBytes = 1024 * 1024;
    opts.workers = 2;
    const [w] = await writeVolumes(opts);
    const st = await readSeekTable(w!.path);
    const sizes = st.frames.map((f) => f.decompressedSize);
    // header entries (3), the small blob, the big blob in 1 MiB frames, the end blocks
    assert.equal(sizes.slice(4), [1024 * 1024, 1024 * 1024, 1024 * 1024, 512 + 100 + 412, 1024]);
    assert.is(sizes[3], 1024);
    execFileSync('zstd', ['-tq', w!.path]);
    const out = execSync(`zstd -dc '${w!.path}' | tar -xOf - blobs/sha256/${hexOf(sha(big))}`, { maxBuffer: 1 << 23 });
    assert.ok(out.equals(big));
  } finally {
    await t.cleanup();
  }
});

test('volumes never exceed volumeSize, even filled to capacity with incompressible data (levels 3 and 19, threads)', async () => {
  const t = await tempDir();
  try {
    const volumeSize = 512 * 1024;
    const cap = volumeCapacity({ volumeSize, headerReserve: 24 * 1024 });
    const variants: Array<{ blobs: Buffer[]; level?: number; workers?: number }> = [
      { blobs: [bytes(cap, 1), bytes(cap + 1, 2), bytes(3 * cap + 123, 3)] },
      { blobs: [bytes(cap - 100_000, 4), bytes(100_000, 5), bytes(cap, 6)], level: 19 },
      { blobs: [bytes(2 * cap, 7), bytes(cap, 8)], workers: 2 },
    ];
    for (const [i, v] of variants.entries()) {
      const dir = join(t.dir, String(i));
      await mkdir(dir);
      const b = await writeTestBundle({ dir, blobs: v.blobs, volumeSize, ...(v.level ? { level: v.level } : {}), ...(v.workers ? { workers: v.workers } : {}) });
      for (const w of b.written) {
        assert.ok(w.size <= volumeSize, `${i}/${w.file}: ${w.size} > ${volumeSize}`);
        // The plan is tight: a full volume uses nearly all of it.
        if (w.index === 1 && i === 0) assert.ok(w.size > volumeSize - 40 * 1024, `volume 1 used ${w.size}`);
      }
      await readAllVolumes(b);
    }
  } finally {
    await t.cleanup();
  }
});

test('a volume sized exactly to volumeSizeBound is never exceeded (tight check of the bound)', async () => {
  const t = await tempDir();
  try {
    // Incompressible content that fills whole tar blocks leaves zstd nothing to save, so the
    // overhead allowance is all that stands between the volume and the bound.
    const header = [{ name: 'x.manifest.json', bytes: bytes(1024, 99) }];
    const sizes = [512, 131_072 - 512, 131_072, 3 * 131_072 + 1024, 1024 * 1024 - 512, 8 * 1024 * 1024];
    for (const [level, workers] of [[3, 0], [19, 0], [3, 2]] as const) {
      const blobs = sizes.map((n, i) => bytes(n, i + 10 * level + workers));
      const plan: BundleBlob[] = blobs.map((b) => ({ digest: sha(b), size: b.length, mediaType: 'application/octet-stream', kind: 'layer', volume: 1 }));
      const entries = [...header.map((h) => ({ name: h.name, size: h.bytes.length })), ...volumePieces(plan, 1)];
      const volumeSize = volumeSizeBound(entries, 512 * 1024);
      const dir = join(t.dir, `${level}-${workers}`);
      await mkdir(dir);
      const contents = new Map(blobs.map((b) => [sha(b), b]));
      const [w] = await writeVolumes({ dir, name: 'x', volumeCount: 1, header, blobs: plan, openBlob: async (b) => chunked(contents.get(b.digest)!, 65536), volumeSize, level, workers, frameBytes: 512 * 1024 });
      assert.ok(w!.size <= volumeSize, `level ${level} workers ${workers}: ${w!.size} > ${volumeSize}`);
    }
  } finally {
    await t.cleanup();
  }
});

function baseOptions(dir: string, blobs: Buffer[], volumeSize: number, open?: (b: BundleBlob, data: Buffer) => Readable): WriteVolumesOptions {
  const contents = new Map(blobs.map((x) => [sha(x), x]));
  const plan = planVolumes(blobs.map((x) => ({ digest: sha(x), size: x.length, mediaType: 'x', kind: 'layer' as const })), { volumeSize, headerReserve: 4096 });
  return {
    dir,
    name: 'lie',
    volumeCount: plan.volumeCount,
    header: [{ name: 'lie.manifest.json', bytes: Buffer.from('{}') }, { name: 'oci-layout', bytes: OCI_LAYOUT }, { name: 'index.json', bytes: Buffer.from('{}') }],
    blobs: withSegmentDigests(plan.blobs, contents),
    openBlob: async (b) => (open ? open(b, contents.get(b.digest)!) : chunked(contents.get(b.digest)!, 8192)),
    volumeSize,
    workers: 0,
  };
}

test('a source that lies fails the write and leaves no files', async () => {
  const t = await tempDir();
  try {
    const blobs = [bytes(50_000, 1), bytes(400_000, 2), bytes(20_000, 3)];
    const liar = sha(blobs[1]!);
    const lies: Array<[string, (data: Buffer) => Readable, ErrorCode | null, RegExp]> = [
      ['different bytes', (d) => { const x = Buffer.from(d); x[399_999]! ^= 1; return chunked(x, 8192); }, 'BLOB_MISMATCH', new RegExp(`${liar}.*content hashes to`)],
      ['short', (d) => chunked(d.subarray(0, d.length - 10), 8192), 'BLOB_MISMATCH', new RegExp(`${liar}.*399990 bytes, expected 400000`)],
      ['long', (d) => chunked(Buffer.concat([d, Buffer.from('x')]), 8192), 'BLOB_MISMATCH', new RegExp(`${liar}.*more than the expected 400000`)],
      // The source's own error is passed through as is.
      ['error', (d) => Readable.from((async function* () { yield d.subarray(0, 1000); throw new Error('registry hung up'); })()), null, /registry hung up/],
    ];
    for (const [what, lie, code, re] of lies) {
      const opts = baseOptions(t.dir, blobs, 200 * 1024, (b, d) => (b.digest === liar ? lie(d) : chunked(d, 8192)));
      assert.ok(opts.blobs[1]!.segments, 'the liar is segmented, so the lie surfaces in a later volume');
      if (code) {
        await rejectsWith(writeVolumes(opts), code, re);
      } else {
        try {
          await writeVolumes(opts);
          assert.unreachable(what);
        } catch (e) {
          assert.match((e as Error).message, re);
        }
      }
      assert.equal(await readdir(t.dir), [], `${what}: no files left`);
    }
  } finally {
    await t.cleanup();
  }
});

test('a file source that lies fails the write and leaves no files (stored and compressed frames)', async () => {
  const t = await tempDir();
  try {
    const out = join(t.dir, 'out');
    await mkdir(out);
    const blobs = [bytes(50_000, 1), bytes(400_000, 2), bytes(20_000, 3)];
    const liar = sha(blobs[1]!);
    const lies: Array<[string, (path: string, data: Buffer) => Promise<void>, ErrorCode, RegExp]> = [
      ['different bytes', async (p, d) => { const x = Buffer.from(d); x[399_999]! ^= 1; await writeFile(p, x); }, 'BLOB_MISMATCH', new RegExp(`${liar}.*content hashes to`)],
      ['short', async (p, d) => writeFile(p, d.subarray(0, d.length - 10)), 'BLOB_MISMATCH', new RegExp(`${liar}.*399990 bytes, expected 400000`)],
      ['long', async (p, d) => writeFile(p, Buffer.concat([d, Buffer.from('x')])), 'BLOB_MISMATCH', new RegExp(`${liar}.*400001 bytes, expected 400000`)],
      ['missing', async () => undefined, 'SOURCE_NOT_FOUND', new RegExp(`${liar}: cannot open`)],
      ['a directory', async (p) => mkdir(p), 'BLOB_MISMATCH', /is not a regular file/],
    ];
    for (const mediaType of ['application/octet-stream', 'application/vnd.oci.image.layer.v1.tar+gzip']) {
      for (const [what, lie, code, re] of lies) {
        const src = join(t.dir, `src-${what.replace(/\W/g, '-')}-${mediaType.length}`);
        await mkdir(src);
        const opts = baseOptions(out, blobs, 200 * 1024);
        opts.blobs = opts.blobs.map((b) => ({ ...b, mediaType }));
        for (const b of blobs) if (sha(b) === liar) await lie(join(src, sha(b).slice(7)), b); else await writeFile(join(src, sha(b).slice(7)), b);
        opts.openBlob = async (b) => ({ file: join(src, b.digest.slice(7)) });
        await rejectsWith(writeVolumes(opts), code, re);
        assert.equal(await readdir(out), [], `${what} (${mediaType}): no files left`);
      }
      // Truncated while it is read: the blob is split, so the rest is read in a later volume.
      const src = join(t.dir, `src-truncated-${mediaType.length}`);
      await mkdir(src);
      for (const b of blobs) await writeFile(join(src, sha(b).slice(7)), b);
      const opts = baseOptions(out, blobs, 200 * 1024);
      opts.blobs = opts.blobs.map((b) => ({ ...b, mediaType }));
      opts.openBlob = async (b) => ({ file: join(src, b.digest.slice(7)) });
      let cut = false;
      opts.onProgress = (e) => {
        if (!cut && e.bytes > 60_000) {
          cut = true;
          truncateSync(join(src, liar.slice(7)), 100_000);
        }
      };
      await rejectsWith(writeVolumes(opts), 'BLOB_MISMATCH', new RegExp(`${liar}.*ends before byte \\d+, shorter than the 400000 bytes expected`));
      assert.equal(await readdir(out), [], `truncated (${mediaType}): no files left`);
    }
  } finally {
    await t.cleanup();
  }
});

test('abort stops the write and removes the partial files', async () => {
  const t = await tempDir();
  try {
    const ac = new AbortController();
    const opts = baseOptions(t.dir, [bytes(300_000, 1), bytes(300_000, 2)], 200 * 1024);
    opts.signal = ac.signal;
    opts.onProgress = (e) => {
      if (e.volume === 2 && e.bytes > 250_000) ac.abort(new Error('user pressed ^C'));
    };
    try {
      await writeVolumes(opts);
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /user pressed \^C/);
    }
    assert.equal(await readdir(t.dir), []);

    // A source that stalls forever does not keep an aborted write hanging.
    const stalled = new AbortController();
    const opts2 = baseOptions(t.dir, [bytes(300_000, 1)], 1024 * 1024, (_b, d) => {
      const p = new PassThrough();
      p.write(d.subarray(0, 1000));
      return p;
    });
    opts2.signal = stalled.signal;
    setTimeout(() => stalled.abort(new Error('gave up waiting')), 100);
    const t0 = Date.now();
    try {
      await writeVolumes(opts2);
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /gave up waiting/);
    }
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(await readdir(t.dir), []);
  } finally {
    await t.cleanup();
  }
});

test('progress counts blob bytes across volumes and names each finished piece', async () => {
  const t = await tempDir();
  try {
    const blobs = [bytes(10_000, 1), bytes(300_000, 2), Buffer.alloc(0)];
    const opts = baseOptions(t.dir, blobs, 200 * 1024);
    const events: WriteProgress[] = [];
    opts.onProgress = (e) => events.push(e);
    const res = await writeVolumes(opts);
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.bytes >= events[i - 1]!.bytes);
    assert.is(events.at(-1)!.bytes, 310_000);
    const done = events.filter((e) => e.digest).map((e) => `${e.volume}:${e.digest!.slice(7, 11)}`);
    const pieces = res.flatMap((w) => volumePieces(opts.blobs, w.index).map((p) => `${w.index}:${p.blob.digest.slice(7, 11)}`));
    assert.equal(done, pieces);
  } finally {
    await t.cleanup();
  }
});

test('a plan made for a larger volume size, or bad options, are refused before writing', async () => {
  const t = await tempDir();
  try {
    const opts = baseOptions(t.dir, [bytes(400_000, 1)], 1024 * 1024);
    await rejectsWith(writeVolumes({ ...opts, volumeSize: 300 * 1024 }), 'INTERNAL', /lie-001\.tar\.zst could take up to \d+ bytes, more than the volume size/);
    await rejectsWith(writeVolumes({ ...opts, name: '../evil' }), 'USAGE', /bad bundle name/);
    await rejectsWith(writeVolumes({ ...opts, header: [{ name: 'a/b', bytes: Buffer.from('x') }] }), 'USAGE', /bad header entry name/);
    await rejectsWith(writeVolumes({ ...opts, header: [] }), 'USAGE');
    await rejectsWith(writeVolumes({ ...opts, volumeCount: 0 }), 'SCHEMA_INVALID');
    await rejectsWith(writeVolumes({ ...opts, blobs: [{ ...opts.blobs[0]!, volume: 2 }] }), 'SCHEMA_INVALID', /outside 1\.\.1/);
    await rejectsWith(writeVolumes({ ...opts, level: 30 }), 'USAGE', /level/);
    await rejectsWith(writeVolumes({ ...opts, dir: join(t.dir, 'missing') }), 'TARGET_ERROR', /cannot write .*missing\/lie-001\.tar\.zst\.partial/);
    assert.equal(await readdir(t.dir), []);
  } finally {
    await t.cleanup();
  }
});

test('already-compressed media types are recognised', () => {
  for (const mt of ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip']) assert.ok(isPrecompressed(mt), mt);
  for (const mt of ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.manifest.v1+json', 'application/octet-stream', 'application/x-gzipped-thing+json']) assert.not.ok(isPrecompressed(mt), mt);
});

test('segment and blob entry names are the documented ones', async () => {
  const t = await tempDir();
  try {
    const big = bytes(300_000, 9);
    const b = await writeTestBundle({ dir: t.dir, blobs: [big], volumeSize: 200 * 1024 });
    const names = b.written.map((w) => execSync(`zstd -dc '${w.path}' | tar -tf -`, { encoding: 'utf8' }).trim().split('\n').slice(3));
    assert.equal(names, b.manifest.blobs[0]!.segments!.map((s) => [segmentEntryName(sha(big), s.index)]));
    assert.is(blobEntryName(sha(big)), `blobs/sha256/${hexOf(sha(big))}`);
  } finally {
    await t.cleanup();
  }
});

test.run();
