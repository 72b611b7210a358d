import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compress } from 'zstd-napi';
import { encodeSeekTable } from '../src/zstd-frames.js';
import { isFerryError, type ErrorCode } from '../src/errors.js';
import type { BundleBlob, BundleManifest } from '../src/manifest-types.js';
import { layoutIndexBytes } from '../src/layout-index.js';
import { blobEntryName, segmentEntryName, tarLayout } from '../src/plan.js';
import { readEmbeddedManifest, readVolume, type VolumeEntryInfo } from '../src/volume-reader.js';
import {
  OCI_LAYOUT,
  bytes,
  minimalManifest,
  packTar,
  pad512,
  rawHeader,
  sha,
  tempDir,
  writeTestBundle,
  zstdVolume,
  type RawEntry,
} from './helpers/volumes.js';

// A hand-made bundle "hb" of two volumes: A and the first segment of S in volume 1, the second
// segment of S and B in volume 2.
const A = bytes(3000, 1);
const S = bytes(3500, 2);
const B = bytes(1000, 3);
const INDEX = layoutIndexBytes([]);
const SIG = Buffer.from('MEUCIQDsignature==');
const blobs: BundleBlob[] = [
  { digest: sha(A), size: A.length, mediaType: 'x', kind: 'layer', volume: 1 },
  { digest: sha(S), size: S.length, mediaType: 'x', kind: 'layer', segments: [{ volume: 1, index: 1, offset: 0, size: 2000, digest: sha(S.subarray(0, 2000)) }, { volume: 2, index: 2, offset: 2000, size: 1500, digest: sha(S.subarray(2000)) }] },
  { digest: sha(B), size: B.length, mediaType: 'x', kind: 'manifest', volume: 2 },
];
const manifest = minimalManifest({ name: 'hb', blobs, volumeCount: 2, indexBytes: INDEX });
const MBYTES = Buffer.from(JSON.stringify(manifest));
const nA = blobEntryName(sha(A));
const nS1 = segmentEntryName(sha(S), 1);
const nB = blobEntryName(sha(B));

function good1(signed = true): RawEntry[] {
  return [
    { name: 'hb.manifest.json', body: MBYTES },
    ...(signed ? [{ name: 'hb.manifest.json.sig', body: SIG }] : []),
    { name: 'oci-layout', body: OCI_LAYOUT },
    { name: 'index.json', body: INDEX },
    { name: nA, body: A },
    { name: nS1, body: S.subarray(0, 2000) },
  ];
}

let dir = '';
let n = 0;

async function volumeFile(entries: RawEntry[] | Buffer, opts: { seekTable?: boolean; perEntryFrames?: boolean; append?: Buffer } = {}): Promise<string> {
  const tarBytes = Buffer.isBuffer(entries) ? entries : await packTar(entries);
  const cuts = opts.perEntryFrames && !Buffer.isBuffer(entries) ? tarLayout(entries.map((e) => ({ name: e.name, size: e.body?.length ?? 0 }))).entries.map((e) => e.headerStart) : [];
  const sub = join(dir, String(++n));
  await mkdir(sub);
  const path = join(sub, 'hb-001.tar.zst');
  let data = zstdVolume(tarBytes, { cuts, seekTable: opts.seekTable ?? true });
  if (opts.append) data = Buffer.concat([data, opts.append]);
  await writeFile(path, data);
  return path;
}

interface ReadOutcome {
  names: string[];
  error?: unknown;
}

async function read(path: string, o: { volume?: number; signed?: boolean; manifest?: BundleManifest; manifestBytes?: Buffer; onEntry?: (info: VolumeEntryInfo) => void } = {}): Promise<ReadOutcome> {
  const names: string[] = [];
  try {
    await readVolume({
      path,
      volume: o.volume ?? 1,
      manifest: o.manifest ?? manifest,
      manifestBytes: o.manifestBytes ?? MBYTES,
      ...(o.signed === false ? {} : { signatureBytes: SIG }),
      onEntry: async (info, stream) => {
        o.onEntry?.(info);
        for await (const _ of stream) void _;
        names.push(info.name);
      },
    });
    return { names };
  } catch (error) {
    return { names, error };
  }
}

function expectError(r: ReadOutcome, code: ErrorCode, re: RegExp, file = 'hb-001.tar.zst'): void {
  const e = r.error;
  assert.ok(e !== undefined, `expected ${code} ${re}, but the volume was accepted`);
  assert.ok(isFerryError(e, code), `expected ${code}, got ${isFerryError(e) ? e.code : ''} ${String(e)}`);
  assert.ok(re.test((e as Error).message), `${(e as Error).message} does not match ${re}`);
  assert.ok((e as Error).message.includes(file), `message names the volume: ${(e as Error).message}`);
}

test.before(async () => {
  dir = (await tempDir('ferry-reader-')).dir;
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a well-formed volume is read in order with kinds, blobs and segments', async () => {
  const infos: VolumeEntryInfo[] = [];
  const r = await read(await volumeFile(good1(), { perEntryFrames: true }), { onEntry: (i) => infos.push(i) });
  assert.is(r.error, undefined, String(r.error));
  assert.equal(infos.map((i) => i.kind), ['manifest', 'signature', 'oci-layout', 'index', 'blob', 'segment']);
  assert.is(infos[4]!.blob!.digest, sha(A));
  assert.equal(infos[5]!.segment, { volume: 1, index: 1, offset: 0, size: 2000, digest: sha(S.subarray(0, 2000)) });
  // One frame for everything and no seek table (manifest says none) is fine too.
  const r2 = await read(await volumeFile(good1(), { seekTable: false }), { manifest: { ...manifest, compression: { ...manifest.compression, seekTable: false } }, manifestBytes: MBYTES });
  assert.is(r2.error, undefined, String(r2.error));
});

test('unsafe names are hostile', async () => {
  const cases: Array<[string, RegExp, Record<string, string>?]> = [
    ['../x', /"\.\.\/x" has a '\.\.' path component/],
    ['/etc/passwd', /"\/etc\/passwd" has an absolute path/],
    [`./${nA}`, /'\.\/' prefix/],
    ['blobs\\sha256\\x', /backslash/],
    ['blobs//x', /empty or '\.' path component/],
    ['x', /NUL byte/, { path: 'blobs/a\u0000b' }],
  ];
  for (const [name, re, pax] of cases) {
    const entries = good1();
    entries.splice(4, 0, { name, body: Buffer.from('evil'), ...(pax ? { pax } : {}) });
    expectError(await read(await volumeFile(entries)), 'ARCHIVE_HOSTILE', re);
  }
});

test('entry types other than regular files are hostile', async () => {
  const cases: Array<[RawEntry['type'], RegExp, string?]> = [
    ['symlink', /is a symbolic link; a volume holds regular files only/, '/etc/shadow'],
    ['link', /is a hard link/, 'hb.manifest.json'],
    ['directory', /is a directory/],
    ['character-device', /is a character device/],
    ['block-device', /is a block device/],
    ['fifo', /is a FIFO/],
  ];
  for (const [type, re, linkname] of cases) {
    const entries = good1();
    entries[4] = { name: nA, type, ...(linkname ? { linkname } : {}) };
    const r = await read(await volumeFile(entries));
    expectError(r, 'ARCHIVE_HOSTILE', re);
    assert.equal(r.names, ['hb.manifest.json', 'hb.manifest.json.sig', 'oci-layout', 'index.json']);
  }
});

test('entries not planned for this volume, duplicates and out-of-order entries are hostile', async () => {
  const other = good1();
  other.splice(5, 0, { name: nB, body: B });
  expectError(await read(await volumeFile(other)), 'ARCHIVE_HOSTILE', /blobs\/sha256\/[a-f0-9]{64}" belongs to volume 2 \(hb-002\.tar\.zst\)/);

  const unknown = good1();
  unknown.splice(4, 0, { name: blobEntryName(sha(Buffer.from('other'))), body: Buffer.from('other') });
  expectError(await read(await volumeFile(unknown)), 'ARCHIVE_HOSTILE', /unexpected entry .* \(expected blobs\/sha256\/[a-f0-9]+ at position 5\)/);

  const dup = good1();
  dup.splice(5, 0, { name: nA, body: A });
  expectError(await read(await volumeFile(dup)), 'ARCHIVE_HOSTILE', /duplicate entry/);

  const dupHeader = good1();
  dupHeader.splice(1, 0, { name: 'hb.manifest.json', body: MBYTES });
  expectError(await read(await volumeFile(dupHeader), { signed: false }), 'ARCHIVE_HOSTILE', /duplicate entry "hb.manifest.json"/);

  const swapped = good1();
  [swapped[4], swapped[5]] = [swapped[5]!, swapped[4]!];
  expectError(await read(await volumeFile(swapped)), 'ARCHIVE_HOSTILE', /out of order/);

  const headerLate = good1();
  [headerLate[2], headerLate[3]] = [headerLate[3]!, headerLate[2]!];
  expectError(await read(await volumeFile(headerLate)), 'ARCHIVE_HOSTILE', /"index\.json" is out of order \(expected oci-layout/);

  // Volume 2's file presented as volume 1.
  const v2: RawEntry[] = [...good1().slice(0, 4), { name: segmentEntryName(sha(S), 2), body: S.subarray(2000) }, { name: nB, body: B }];
  expectError(await read(await volumeFile(v2)), 'ARCHIVE_HOSTILE', /belongs to volume 2/);
  assert.is((await read(await volumeFile(v2), { volume: 2 })).error, undefined);
});

test('an entry whose size differs from the plan is refused before its body is read', async () => {
  const huge = good1();
  huge[4] = { name: nA, body: Buffer.alloc(20 * 1024 * 1024) };
  const seen: string[] = [];
  const r = await read(await volumeFile(huge), { onEntry: (i) => seen.push(i.name) });
  expectError(r, 'ARCHIVE_HOSTILE', /entry blobs\/sha256\/[a-f0-9]+ claims 20971520 bytes; the manifest plans 3000/);
  assert.not.ok(seen.includes(nA), 'the callback never saw the entry');

  const seg = good1();
  seg[5] = { name: nS1, body: S.subarray(0, 1999) };
  expectError(await read(await volumeFile(seg)), 'ARCHIVE_HOSTILE', /segments\/sha256\/[a-f0-9]+\.001 claims 1999 bytes; the manifest plans 2000/);
});

test('whole blobs are verified as they stream; index.json against layoutIndex', async () => {
  const bad = good1();
  const A2 = Buffer.from(A);
  A2[1234]! ^= 0xff;
  bad[4] = { name: nA, body: A2 };
  const r = await read(await volumeFile(bad));
  expectError(r, 'BLOB_MISMATCH', new RegExp(`${sha(A)} in hb-001\\.tar\\.zst: content hashes to ${sha(A2)}`));

  const idx = good1();
  idx[3] = { name: 'index.json', body: Buffer.from(INDEX.toString().replace('2', '3')) };
  expectError(await read(await volumeFile(idx)), 'BLOB_MISMATCH', /index\.json in hb-001\.tar\.zst/);

  const layout = good1();
  layout[2] = { name: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"2.0.0"}') };
  expectError(await read(await volumeFile(layout)), 'ARCHIVE_HOSTILE', /oci-layout is not exactly \{"imageLayoutVersion":"1\.0\.0"\}/);
  const layout2 = good1();
  layout2[2] = { name: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"} ') };
  expectError(await read(await volumeFile(layout2)), 'ARCHIVE_HOSTILE', /oci-layout claims 31 bytes/);
});

test('the manifest and signature copies must be byte-identical; signed and unsigned must agree', async () => {
  const m = good1();
  const M2 = Buffer.from(MBYTES);
  M2[10]! ^= 1;
  m[0] = { name: 'hb.manifest.json', body: M2 };
  expectError(await read(await volumeFile(m)), 'SIGNATURE_INVALID', /^manifest copy inside hb-001\.tar\.zst differs from the signed manifest$/);
  const longer = good1();
  longer[0] = { name: 'hb.manifest.json', body: Buffer.concat([MBYTES, Buffer.from(' ')]) };
  expectError(await read(await volumeFile(longer)), 'SIGNATURE_INVALID', /manifest copy inside hb-001\.tar\.zst differs from the signed manifest/);

  const s = good1();
  s[1] = { name: 'hb.manifest.json.sig', body: Buffer.from('MEUCIQDsignaturX==') };
  expectError(await read(await volumeFile(s)), 'SIGNATURE_INVALID', /signature copy inside hb-001\.tar\.zst differs/);

  expectError(await read(await volumeFile(good1(true)), { signed: false }), 'SIGNATURE_INVALID', /carries a signature entry hb\.manifest\.json\.sig but the bundle is unsigned/);
  expectError(await read(await volumeFile(good1(false)), { signed: true }), 'SIGNATURE_INVALID', /has no signature entry .* but the bundle is signed/);
  assert.is((await read(await volumeFile(good1(false)), { signed: false })).error, undefined);
});

test('extra tar headers (pax, GNU long names, stray zero blocks) and odd modes are hostile', async () => {
  const pax = good1();
  pax[4] = { name: nA, body: A, pax: { comment: 'hi' } };
  expectError(await read(await volumeFile(pax)), 'ARCHIVE_HOSTILE', /extra tar header blocks .* before entry blobs\/sha256/);

  const tarBytes = await packTar(good1());
  const layout = tarLayout(good1().map((e) => ({ name: e.name, size: e.body!.length })));
  const at = layout.entries[4]!.headerStart;
  const gnu = Buffer.concat([tarBytes.subarray(0, at), rawHeader({ name: '././@LongLink', size: nA.length + 1, typeflag: 'L' }), pad512(Buffer.from(nA + '\0')), tarBytes.subarray(at)]);
  expectError(await read(await volumeFile(gnu)), 'ARCHIVE_HOSTILE', /extra tar header blocks/);

  const zeros = Buffer.concat([tarBytes.subarray(0, at), Buffer.alloc(512), tarBytes.subarray(at)]);
  expectError(await read(await volumeFile(zeros)), 'ARCHIVE_HOSTILE', /extra tar header blocks/);

  const suid = good1();
  suid[4] = { name: nA, body: A, mode: 0o4755 };
  expectError(await read(await volumeFile(suid)), 'ARCHIVE_HOSTILE', /setuid/);
});

test('a long bundle name gets its pax path header accepted, but not extra pax keys', async () => {
  const name = 'n'.repeat(100);
  const m = { ...minimalManifest({ name, blobs: [{ ...blobs[0]! }], volumeCount: 1, indexBytes: INDEX }) };
  const mb = Buffer.from(JSON.stringify(m));
  const entries: RawEntry[] = [{ name: `${name}.manifest.json`, body: mb }, { name: `${name}.manifest.json.sig`, body: SIG }, { name: 'oci-layout', body: OCI_LAYOUT }, { name: 'index.json', body: INDEX }, { name: nA, body: A }];
  const ok = await read(await volumeFile(entries), { manifest: m, manifestBytes: mb });
  assert.is(ok.error, undefined, String(ok.error));
  assert.is(ok.names[0], `${name}.manifest.json`);
  const emb = await readEmbeddedManifest(await volumeFile(entries));
  assert.is(emb.manifestName, `${name}.manifest.json`);
  assert.ok(emb.signatureBytes!.equals(SIG));

  const sneaky = entries.map((e) => ({ ...e }));
  sneaky[0]!.pax = { path: sneaky[0]!.name, mtime: '1' };
  expectError(await read(await volumeFile(sneaky), { manifest: m, manifestBytes: mb }), 'ARCHIVE_HOSTILE', /pax extended header \(path, mtime\)/);
});

test('zstd bombs, trailing data and extra entries after the last expected one are hostile', async () => {
  const tarBytes = await packTar(good1());
  const bombPath = await volumeFile(tarBytes, { seekTable: false, append: compress(Buffer.alloc(64 * 1024 * 1024)) });
  const t0 = Date.now();
  expectError(await read(bombPath, { manifest: { ...manifest, compression: { ...manifest.compression, seekTable: false } } }), 'ARCHIVE_HOSTILE', /decompresses to more than the \d+ bytes its entries need/);
  assert.ok(Date.now() - t0 < 3000);

  const garbage = Buffer.concat([tarBytes, Buffer.from('not zeros')]);
  expectError(await read(await volumeFile(garbage)), 'ARCHIVE_HOSTILE', /data after its last expected entry/);

  const extra = [...good1(), { name: 'blobs/sha256/' + 'e'.repeat(64), body: Buffer.from('more') }];
  expectError(await read(await volumeFile(extra)), 'ARCHIVE_HOSTILE', /data after its last expected entry \(tar offset \d+\)/);

  // Zero padding to a 10 KiB record (what GNU tar writes) is fine.
  const padded = Buffer.concat([tarBytes, Buffer.alloc(10240 - (tarBytes.length % 10240))]);
  const ok = await read(await volumeFile(padded), { manifest: { ...manifest, compression: { ...manifest.compression, seekTable: false } } });
  assert.is(ok.error, undefined, String(ok.error));
});

test('truncated volumes and missing entries are corrupt, naming what is missing', async () => {
  const noSeek = { ...manifest, compression: { ...manifest.compression, seekTable: false } };
  const full = zstdVolume(await packTar(good1()), { cuts: tarLayout(good1().map((e) => ({ name: e.name, size: e.body!.length }))).entries.map((e) => e.headerStart), seekTable: false });
  const cut = await volumeFile(Buffer.alloc(0));
  await writeFile(cut, full.subarray(0, full.length - 1500));
  expectError(await read(cut, { manifest: noSeek }), 'ARCHIVE_CORRUPT', /middle of a frame/);

  // With a seek table expected, a cut volume still names the entry it stops in.
  const withSeek = await volumeFile(good1(), { perEntryFrames: true });
  const bytes1 = await readFile(withSeek);
  await writeFile(withSeek, bytes1.subarray(0, bytes1.length - 1500));
  expectError(await read(withSeek), 'ARCHIVE_CORRUPT', /middle of a frame \(truncated\) \(while reading entry segments\/sha256\/[a-f0-9]+\.001, 6 of 6\)/);
  // Only the seek table cut off: everything else is fine, the table is missing.
  await writeFile(withSeek, bytes1.subarray(0, bytes1.length - (8 + 6 * 8 + 9)));
  expectError(await read(withSeek), 'ARCHIVE_CORRUPT', /no zstd seek table/);
  // Missing file.
  const gone = await read(join(dir, 'nope', 'hb-001.tar.zst'));
  assert.ok(isFerryError(gone.error, 'INPUT_NOT_FOUND'), String(gone.error));

  // Cut cleanly at a frame boundary: the last entry and the end-of-archive are gone.
  const layout = tarLayout(good1().map((e) => ({ name: e.name, size: e.body!.length })));
  const tarBytes = await packTar(good1());
  const clean = await volumeFile(tarBytes.subarray(0, layout.entries[5]!.headerStart), { seekTable: false });
  expectError(await read(clean, { manifest: noSeek }), 'ARCHIVE_CORRUPT', new RegExp(`truncated or incomplete.*missing ${segmentEntryName(sha(S), 1).replace(/\./g, '\\.')}`));

  // All entries but no end-of-archive blocks.
  const noEnd = await volumeFile(tarBytes.subarray(0, layout.entriesEnd), { seekTable: false });
  expectError(await read(noEnd, { manifest: noSeek }), 'ARCHIVE_CORRUPT', /without the tar end-of-archive blocks/);

  // A well-terminated tar that lacks an entry.
  const missing = good1().slice(0, 5);
  expectError(await read(await volumeFile(missing)), 'ARCHIVE_CORRUPT', /missing segments\/sha256\/[a-f0-9]+\.001/);

  // Garbage after the seek table; not zstd at all.
  expectError(await read(await volumeFile(good1(), { append: Buffer.from('garbage') })), 'ARCHIVE_CORRUPT', /is damaged: zstd: Unknown frame descriptor$/);
  expectError(await read(await volumeFile(good1(), { seekTable: false, append: Buffer.from('garbage!') }), { manifest: noSeek }), 'ARCHIVE_CORRUPT', /zstd: /);
  const notZstd = await volumeFile(Buffer.alloc(0));
  await writeFile(notZstd, await packTar(good1()));
  expectError(await read(notZstd, { manifest: noSeek }), 'ARCHIVE_CORRUPT', /damaged: zstd: /);
});

test('a flipped byte anywhere in a written volume never reads as success', async () => {
  const t = await tempDir();
  try {
    const b = await writeTestBundle({ dir: t.dir, blobs: [bytes(40_000, 1), bytes(250_000, 2), bytes(9000, 3)], volumeSize: 200 * 1024 });
    const w = b.written[0]!;
    const original = await readFile(w.path);
    const codes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const pos = Math.floor(((i + 0.5) / 40) * original.length);
      const damaged = Buffer.from(original);
      damaged[pos]! ^= 1 << (i % 8);
      await writeFile(w.path, damaged);
      const r = await read(w.path, { manifest: b.manifest, manifestBytes: b.manifestBytes, signed: false });
      assert.ok(r.error !== undefined, `flip at ${pos} was accepted`);
      const code = isFerryError(r.error) ? r.error.code : String(r.error);
      assert.ok(code === 'ARCHIVE_CORRUPT' || code === 'BLOB_MISMATCH', `flip at ${pos}: ${code} ${String(r.error)}`);
      codes.add(code);
    }
    await writeFile(w.path, original);
    assert.is((await read(w.path, { manifest: b.manifest, manifestBytes: b.manifestBytes, signed: false })).error, undefined);
  } finally {
    await t.cleanup();
  }
});

test('callbacks: unread streams are still drained and verified; a failing callback fails the read', async () => {
  const bad = good1();
  const A2 = Buffer.from(A);
  A2[0]! ^= 1;
  bad[4] = { name: nA, body: A2 };
  const path = await volumeFile(bad);
  try {
    await readVolume({ path, volume: 1, manifest, manifestBytes: MBYTES, signatureBytes: SIG, onEntry: async () => undefined });
    assert.unreachable('lazy callback let a bad blob through');
  } catch (e) {
    assert.ok(isFerryError(e, 'BLOB_MISMATCH'), String(e));
  }
  const res = await readVolume({ path: await volumeFile(good1()), volume: 1, manifest, manifestBytes: MBYTES, signatureBytes: SIG, onEntry: async () => undefined });
  assert.is(res.entries, 6);
  try {
    await readVolume({
      path: await volumeFile(good1()),
      volume: 1,
      manifest,
      manifestBytes: MBYTES,
      signatureBytes: SIG,
      onEntry: async (info, stream) => {
        if (info.kind === 'blob') {
          stream.resume();
          throw new Error('registry said no');
        }
        stream.resume();
      },
    });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /registry said no/);
  }
  const ac = new AbortController();
  try {
    await readVolume({
      path: await volumeFile(good1()),
      volume: 1,
      manifest,
      manifestBytes: MBYTES,
      signatureBytes: SIG,
      signal: ac.signal,
      onEntry: async (info, stream) => {
        if (info.kind === 'oci-layout') ac.abort(new Error('stop now'));
        for await (const _ of stream) void _;
      },
    });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /stop now/);
  }
});

test('what the callback throws (a full disk, a link in the target) comes out as it is, never as a hostile or corrupt volume', async () => {
  const errors: unknown[] = [
    Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
    Object.assign(new Error('ENAMETOOLONG: name too long'), { code: 'ENAMETOOLONG' }),
    new (await import('../src/errors.js')).FerryError('TARGET_ERROR', 'docs is a symbolic link'),
  ];
  for (const thrown of errors) {
    try {
      await readVolume({
        path: await volumeFile(good1()),
        volume: 1,
        manifest,
        manifestBytes: MBYTES,
        signatureBytes: SIG,
        onEntry: async (info, stream) => {
          if (info.kind === 'blob') {
            // The sink fails after reading part of the stream, as a full disk does.
            stream.once('data', () => undefined);
            throw thrown;
          }
          stream.resume();
        },
      });
      assert.unreachable();
    } catch (e) {
      assert.is(e, thrown, `got ${String((e as { code?: string }).code)} ${(e as Error).message}`);
    }
  }
});

test('a damaged segment fails the volume that holds it, with BLOB_MISMATCH naming the volume and the segment', async () => {
  const flipped = (b: Buffer, at: number): Buffer => {
    const x = Buffer.from(b);
    x[at]! ^= 0x20;
    return x;
  };
  // Segment 1 of S, in volume 1.
  const bad1 = good1();
  bad1[5] = { name: nS1, body: flipped(S.subarray(0, 2000), 1000) };
  expectError(await read(await volumeFile(bad1)), 'BLOB_MISMATCH', new RegExp(`segment 1 of 2 of ${sha(S)} \\(bytes 0\\.\\.2000\\) in hb-001\\.tar\\.zst: content hashes to`));
  // Segment 2 of S, in volume 2: the message names volume 2, not the one the blob started in.
  const nS2 = segmentEntryName(sha(S), 2);
  const vol2 = (seg: Buffer): RawEntry[] => [
    { name: 'hb.manifest.json', body: MBYTES },
    { name: 'hb.manifest.json.sig', body: SIG },
    { name: 'oci-layout', body: OCI_LAYOUT },
    { name: 'index.json', body: INDEX },
    { name: nS2, body: seg },
    { name: nB, body: B },
  ];
  const path2 = async (entries: RawEntry[]): Promise<string> => {
    const sub = join(dir, `v2-${++n}`);
    await mkdir(sub);
    const p = join(sub, 'hb-002.tar.zst');
    await writeFile(p, zstdVolume(await packTar(entries)));
    return p;
  };
  assert.is((await read(await path2(vol2(S.subarray(2000))), { volume: 2 })).error, undefined);
  expectError(await read(await path2(vol2(flipped(S.subarray(2000), 0))), { volume: 2 }), 'BLOB_MISMATCH', new RegExp(`segment 2 of 2 of ${sha(S)} \\(bytes 2000\\.\\.3500\\) in hb-002\\.tar\\.zst`), 'hb-002.tar.zst');
  // A consumer that leaves the segment unread gets the same refusal (it is drained and hashed).
  try {
    await readVolume({ path: await volumeFile(bad1), volume: 1, manifest, manifestBytes: MBYTES, signatureBytes: SIG, onEntry: async () => undefined });
    assert.unreachable('an unread bad segment was accepted');
  } catch (e) {
    assert.ok(isFerryError(e, 'BLOB_MISMATCH') && /segment 1 of 2/.test((e as Error).message), String(e));
  }
});

test('index.json must say exactly what images[] says, even when it matches layoutIndex', async () => {
  const img = { source: 'oci:x:1', repository: 'team/app', tag: '1', digest: sha(B), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: B.length, platformFilter: { mode: 'all' as const }, platforms: [], blobs: [sha(B)] };
  const good = layoutIndexBytes([img]);
  const entry = { mediaType: img.mediaType, digest: img.digest, size: img.size, annotations: { 'org.opencontainers.image.ref.name': 'team/app:1' } };
  const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
  const idx = (manifests: unknown[], extra: Record<string, unknown> = {}): Buffer => json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests, ...extra });
  const withIndex = (index: Buffer) => {
    const m: BundleManifest = { ...manifest, images: [img], layoutIndex: { digest: sha(index), size: index.length } };
    const mb = Buffer.from(JSON.stringify(m));
    const entries = good1().map((e) => (e.name === 'hb.manifest.json' ? { ...e, body: mb } : e.name === 'index.json' ? { ...e, body: index } : e));
    return { m, mb, entries };
  };
  const ok = withIndex(good);
  assert.is((await read(await volumeFile(ok.entries), { manifest: ok.m, manifestBytes: ok.mb })).error, undefined);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['an extra image', idx([entry, { ...entry, digest: sha(A), annotations: { 'org.opencontainers.image.ref.name': 'evil:latest' } }]), /manifests\[1\] \("sha256:[a-f0-9]+"\) is not an image or chart of the bundle/],
    ['no image', idx([]), /images\[0\] team\/app:1 is missing/],
    ['another digest', idx([{ ...entry, digest: sha(A) }]), /manifests\[0\]\.digest is "sha256:[a-f0-9]+", images\[0\] is sha256:/],
    ['another name', idx([{ ...entry, annotations: { 'org.opencontainers.image.ref.name': 'team/app:2' } }]), /manifests\[0\] is named "team\/app:2", images\[0\] is team\/app:1/],
    ['another media type', idx([{ ...entry, mediaType: 'application/vnd.oci.image.index.v1+json' }]), /manifests\[0\]\.mediaType is/],
    ['another size', idx([{ ...entry, size: 1 }]), /manifests\[0\]\.size is 1/],
    ['an extra annotation', idx([{ ...entry, annotations: { ...entry.annotations, 'io.x': 'y' } }]), /annotations has a field "io\.x"/],
    ['no annotations', idx([{ mediaType: entry.mediaType, digest: entry.digest, size: entry.size }]), /manifests\[0\] has no annotations/],
    ['urls in an entry', idx([{ ...entry, urls: ['https://evil.example/blob'] }]), /manifests\[0\] has a field "urls"/],
    ['a platform in an entry', idx([{ ...entry, platform: { os: 'linux', architecture: 'amd64' } }]), /manifests\[0\] has a field "platform"/],
    ['an index-level field', idx([entry], { subject: { digest: sha(A) } }), /the index has a field "subject"/],
    ['schemaVersion 1', json({ schemaVersion: 1, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry] }), /schemaVersion is 1/],
    ['a Docker list media type', json({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [entry] }), /mediaType is "application\/vnd\.docker/],
    ['no media type', json({ schemaVersion: 2, manifests: [entry] }), /the index has no mediaType/],
    ['manifests not a list', idx({} as unknown as unknown[]), /manifests is not an array/],
    ['not JSON', Buffer.from('{"schemaVersion":2,'), /not valid JSON/],
    ['not an object', Buffer.from('[]'), /not a JSON object/],
    ['pretty-printed', Buffer.from(JSON.stringify(JSON.parse(good.toString()), null, 2)), /not in the exact form Ferry writes/],
    // Parsers differ on duplicate keys; the exact-bytes rule leaves no room for either reading.
    ['a duplicate key', Buffer.from(good.toString().replace('"manifests":', '"manifests":[],"manifests":')), /not in the exact form Ferry writes/],
  ];
  for (const [what, index, re] of cases) {
    const c = withIndex(index);
    const r = await read(await volumeFile(c.entries), { manifest: c.m, manifestBytes: c.mb });
    expectError(r, 'ARCHIVE_HOSTILE', re);
    assert.match((r.error as Error).message, /hb-001\.tar\.zst: index\.json disagrees with the signed manifest/, what);
    assert.not.ok(r.names.some((x) => x.startsWith('blobs/')), `${what}: a blob was delivered`);
  }
});

test('a skippable zstd frame Ferry does not write is hostile, naming the volume and the offset', async () => {
  const entries = good1();
  const tarBytes = await packTar(entries);
  const cuts = tarLayout(entries.map((e) => ({ name: e.name, size: e.body!.length }))).entries.map((e) => e.headerStart).slice(1);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, tarBytes.length]) {
    pieces.push(tarBytes.subarray(at, c));
    at = c;
  }
  const frames = pieces.map((p) => compress(p, { checksumFlag: true }));
  const skip = Buffer.alloc(12);
  skip.writeUInt32LE(0x184d2a5a, 0);
  skip.writeUInt32LE(4, 4);
  const table = (fs: Buffer[]): Buffer => encodeSeekTable(fs.map((f, i) => ({ compressedSize: f.length, decompressedSize: pieces[i]!.length })));
  const offsetOf = (k: number): number => frames.slice(0, k).reduce((x, f) => x + f.length, 0);
  const write = async (data: Buffer): Promise<string> => {
    const p = await volumeFile(Buffer.alloc(0));
    await writeFile(p, data);
    return p;
  };
  assert.is((await read(await write(Buffer.concat([...frames, table(frames)])))).error, undefined);
  const between = Buffer.concat([...frames.slice(0, 4), skip, ...frames.slice(4), table(frames)]);
  expectError(await read(await write(between)), 'ARCHIVE_HOSTILE', new RegExp(`hb-001\\.tar\\.zst holds a zstd frame Ferry never writes: a skippable frame with magic 0x184D2A5A at offset ${offsetOf(4)}`));
  const first = Buffer.concat([skip, ...frames, table(frames)]);
  expectError(await read(await write(first)), 'ARCHIVE_HOSTILE', /magic 0x184D2A5A at offset 0/);
  const afterTable = Buffer.concat([...frames, table(frames), skip]);
  expectError(await read(await write(afterTable)), 'ARCHIVE_HOSTILE', new RegExp(`at offset ${offsetOf(frames.length) + table(frames).length} follows the seek table at offset ${offsetOf(frames.length)}`));
  const twoTables = Buffer.concat([...frames, table(frames), table(frames)]);
  expectError(await read(await write(twoTables)), 'ARCHIVE_HOSTILE', /skippable frame \(magic 0x184D2A5E\) at offset \d+ follows the seek table/);
});

test('readEmbeddedManifest reads only the first entries, strictly', async () => {
  const signed = await readEmbeddedManifest(await volumeFile(good1(true)));
  assert.is(signed.manifestName, 'hb.manifest.json');
  assert.ok(signed.manifestBytes.equals(MBYTES));
  assert.ok(signed.signatureBytes!.equals(SIG));
  const unsigned = await readEmbeddedManifest(await volumeFile(good1(false)));
  assert.is(unsigned.signatureBytes, undefined);

  const fail = async (p: string, code: ErrorCode, re: RegExp): Promise<void> => {
    try {
      await readEmbeddedManifest(p);
      assert.unreachable(String(re));
    } catch (e) {
      assert.ok(isFerryError(e, code), `expected ${code}: ${String(e)}`);
      assert.match((e as Error).message, re);
    }
  };
  await fail(await volumeFile([{ name: 'oci-layout', body: OCI_LAYOUT }, ...good1()]), 'ARCHIVE_HOSTILE', /first entry is "oci-layout", not <bundle>\.manifest\.json/);
  await fail(await volumeFile([{ name: '../hb.manifest.json', body: MBYTES }]), 'ARCHIVE_HOSTILE', /'\.\.' path component/);
  await fail(await volumeFile([{ name: 'hb.manifest.json', type: 'symlink', linkname: '/etc/passwd' }]), 'ARCHIVE_HOSTILE', /regular files/);
  await fail(await volumeFile([{ name: 'hb.manifest.json', body: MBYTES, pax: { comment: 'x' } }]), 'ARCHIVE_HOSTILE', /extra tar header blocks|pax/);
  // A header claiming 100 MiB is refused without reading (or needing) the body.
  const claim = Buffer.concat([rawHeader({ name: 'hb.manifest.json', size: 100 * 1024 * 1024, typeflag: '0' }), Buffer.alloc(4096, 0x7b)]);
  await fail(await volumeFile(claim, { seekTable: false }), 'ARCHIVE_HOSTILE', /claims 104857600 bytes, more than the 67108864 allowed/);
  const full = zstdVolume(await packTar(good1()));
  const cut = await volumeFile(Buffer.alloc(0));
  await writeFile(cut, full.subarray(0, 300));
  await fail(cut, 'ARCHIVE_CORRUPT', /hb-001\.tar\.zst/);
  const plain = await volumeFile(Buffer.alloc(0));
  await writeFile(plain, await packTar(good1()));
  await fail(plain, 'ARCHIVE_CORRUPT', /damaged: zstd/);
  await fail(await volumeFile([]), 'ARCHIVE_CORRUPT', /no entries/);
});

test.run();
