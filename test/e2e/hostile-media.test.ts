// Hostile media, hostile text, key files and typed credentials, through the real CLIs (issue 6,
// items 20, 22, 23, 24). Every run has a timeout: a FIFO that blocks or a link to /dev/zero that
// is read forever fails its test instead of hanging the suite.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublicKey, createHash } from 'node:crypto';
import { makeOciLayout } from '../helpers/images.js';
import { repack, resignBundle } from '../helpers/tamper.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 30_000;
/** Refusals of special files must come at once: far below the timeout. */
const QUICK_MS = 10_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a CLI with a kill timer; a run that had to be killed fails the calling test. */
function cli(which: 'bundle' | 'load', args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const bin = which === 'bundle' ? 'packages/bundler/bin/ferry-bundle.js' : 'packages/loader/bin/ferry-load.js';
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, bin), ...args], { cwd: root, env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (killed) reject(new Error(`ferry-${which} ${args.join(' ')} still ran after ${RUN_TIMEOUT_MS} ms (it blocked or read forever)\n${stderr}`));
      else resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}
const load = (args: string[], env?: Record<string, string | undefined>) => cli('load', args, env);
const bundle = (args: string[], env?: Record<string, string | undefined>) => cli('bundle', args, env);

/** A character that can move the cursor, recolour, erase or reorder what a terminal shows. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

function assertClean(r: Result, label: string): void {
  for (const [name, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const m = RAW_UNSAFE.exec(text);
    assert.not.ok(m, `${label}: raw U+${m?.[0].codePointAt(0)!.toString(16).padStart(4, '0')} on ${name}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 60), (m?.index ?? 0) + 20))}`);
  }
  assert.not.match(r.stdout + r.stderr, /\x1b|\x9b|\u202e/, label);
}

function assertQuick(r: Result, label: string): void {
  assert.ok(r.ms < QUICK_MS, `${label}: took ${r.ms} ms`);
}

let tmp = '';
let pristine = '';
let volumes: string[] = [];
let kFingerprint = '';
let n = 0;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-hostile-media-'));
  await makeOciLayout(join(tmp, 'src'), [
    { tag: 'v1', platforms: [{ os: 'linux', architecture: 'amd64', layers: [{ size: 150_000, seed: 'm1', gzipLevel: 0 }, { size: 90_000, seed: 'm2', gzipLevel: 0 }] }] },
  ]);
  for (const k of ['k', 'evil']) assert.is((await bundle(['keygen', '--out', join(tmp, k)], { FERRY_KEY_PASSWORD: undefined })).code, 0);
  kFingerprint = 'sha256:' + createHash('sha256').update(createPublicKey(await readFile(join(tmp, 'k.pub'))).export({ type: 'spki', format: 'der' })).digest('hex');
  pristine = join(tmp, 'pristine');
  const r = await bundle(['create', '--name', 'm', '--out', pristine, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:v1`, '--volume-size', '128KiB'], { FERRY_KEY_PASSWORD: undefined });
  assert.is(r.code, 0, r.stderr);
  volumes = (await readdir(pristine)).filter((f) => f.endsWith('.tar.zst')).sort();
  assert.ok(volumes.length >= 3, `want three volumes or more, got ${volumes.join(', ')}`);
});

test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function copyBundle(): Promise<string> {
  const d = join(tmp, `case-${++n}`);
  await cp(pristine, d, { recursive: true });
  return d;
}

const trusted = () => ['--trusted-key', join(tmp, 'k.pub')];

type Special = 'fifo' | 'dev-zero' | 'directory' | 'huge';
const SPECIALS: Array<[Special, RegExp]> = [
  ['fifo', /is a FIFO \(named pipe\), not a regular file/],
  ['dev-zero', /is a character device \(a symbolic link to \/dev\/zero\), not a regular file/],
  ['directory', /is a directory, not a regular file/],
  ['huge', /is 3\.00 GiB \(3221225472 bytes\), larger than/],
];

/** Put a special file where `path` was: a FIFO, a link to /dev/zero, a directory, or a sparse 3 GiB file. */
async function replaceWith(path: string, kind: Special): Promise<void> {
  await rm(path, { recursive: true, force: true });
  if (kind === 'fifo') execFileSync('mkfifo', [path]);
  else if (kind === 'dev-zero') await symlink('/dev/zero', path);
  else if (kind === 'directory') await mkdir(path);
  else {
    await writeFile(path, '');
    await truncate(path, 3 * 1024 ** 3); // sparse: costs no disk
  }
}

// ---- item 20: bounded, clear refusals for hostile media ----

test('checksum: a checksum list that is a FIFO, a link to /dev/zero, a directory or 3 GiB is refused at once (INPUT_INVALID, exit 17)', async () => {
  await Promise.all(SPECIALS.map(async ([kind, re]) => {
    const d = await copyBundle();
    await replaceWith(join(d, 'm.sha256'), kind);
    const r = await load(['checksum', d]);
    assert.is(r.code, 17, `${kind}: ${r.stderr}`);
    assert.match(r.stderr, /error \[INPUT_INVALID\]: checksum list .*m\.sha256 /, kind);
    assert.match(r.stderr, re, kind);
    if (kind === 'huge') assert.match(r.stderr, /larger than any checksum list Ferry accepts, 1\.00 MiB/);
    assert.match(r.stderr, /re-copy the file named above/);
    assertQuick(r, kind);
    const j = await load(['checksum', join(d, 'm.sha256'), '--json']);
    assert.is(j.code, 17, kind);
    assert.is(JSON.parse(j.stdout).error.code, 'INPUT_INVALID');
  }));
});

test('checksum --key: a list signature that is a FIFO, /dev/zero, a directory or 3 GiB is refused at once', async () => {
  await Promise.all(SPECIALS.map(async ([kind, re]) => {
    const d = await copyBundle();
    await replaceWith(join(d, 'm.sha256.sig'), kind);
    const r = await load(['checksum', d, '--key', join(tmp, 'k.pub')]);
    assert.is(r.code, 17, `${kind}: ${r.stderr}`);
    assert.match(r.stderr, /checksum list signature .*m\.sha256\.sig /, kind);
    assert.match(r.stderr, re, kind);
    assertQuick(r, kind);
  }));
});

test('checksum: a listed volume that is a FIFO, a device link or a directory is a FAIL line with the reason, and the receipt says why', async () => {
  const d = await copyBundle();
  await replaceWith(join(d, volumes[0]!), 'fifo');
  await replaceWith(join(d, volumes[1]!), 'dev-zero');
  await replaceWith(join(d, volumes[2]!), 'directory');
  const receipt = join(tmp, `receipt-${n}.txt`);
  const r = await load(['checksum', d, '--receipt', receipt]);
  assert.is(r.code, 17, r.stdout + r.stderr);
  assertQuick(r, 'special volumes');
  assert.match(r.stdout, new RegExp(`FAIL\\s+${volumes[0]}\\s+NOT CHECKED: volume .* is a FIFO \\(named pipe\\), not a regular file`));
  assert.match(r.stdout, new RegExp(`FAIL\\s+${volumes[1]}\\s+NOT CHECKED: volume .* is a character device \\(a symbolic link to /dev/zero\\)`));
  assert.match(r.stdout, new RegExp(`FAIL\\s+${volumes[2]}\\s+NOT CHECKED: volume .* is a directory`));
  assert.match(r.stdout, /PASS\s+m\.manifest\.json/);
  assert.match(r.stdout, /RESULT: FAIL — \d+ passed, 3 failed, 0 missing, 0 unexpected/);
  assert.is(await readFile(receipt, 'utf8'), r.stdout, 'the receipt file is what was shown');
  const j = await load(['checksum', d, '--json']);
  const rep = JSON.parse(j.stdout);
  assert.is(rep.ok, false);
  assert.match(rep.files.find((f: { file: string }) => f.file === volumes[0]).reason, /is a FIFO/);
  // A checksum mismatch elsewhere still exits 7: bad content outranks an unreadable file.
  await writeFile(join(d, 'm.manifest.json.sig'), 'AAAA');
  assert.is((await load(['checksum', d])).code, 7);
});

test('verify and inspect: a manifest or its signature that is a FIFO, a link to /dev/zero, a directory or 3 GiB is refused at once', async () => {
  for (const [file, what] of [['m.manifest.json', 'manifest'], ['m.manifest.json.sig', 'manifest signature']] as const) {
    await Promise.all(SPECIALS.map(async ([kind, re]) => {
      const d = await copyBundle();
      await replaceWith(join(d, file), kind);
      const [v, i] = await Promise.all([load(['verify', d, ...trusted()]), load(['inspect', d])]);
      for (const [cmd, r] of [['verify', v], ['inspect', i]] as const) {
        const label = `${cmd} ${file} ${kind}`;
        assert.is(r.code, 17, `${label}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`error \\[INPUT_INVALID\\]: ${what} .*${file.replace(/\./g, '\\.')} `), label);
        assert.match(r.stderr, re, label);
        assertQuick(r, label);
      }
    }));
  }
});

test('verify, inspect and checksum --key: a trusted key that is a FIFO, /dev/zero, a directory or 3 GiB is refused at once', async () => {
  await Promise.all(SPECIALS.map(async ([kind, re]) => {
    const key = join(tmp, `key-${kind}.pub`);
    await replaceWith(key, kind);
    const results = await Promise.all([load(['verify', pristine, '--trusted-key', key]), load(['inspect', pristine, '--trusted-key', key]), load(['checksum', pristine, '--key', key])]);
    for (const r of results) {
      assert.is(r.code, 17, `${kind}: ${r.stderr}`);
      assert.match(r.stderr, /error \[INPUT_INVALID\]: trusted key /, kind);
      assert.match(r.stderr, re, kind);
      assertQuick(r, kind);
    }
  }));
});

test('verify: a volume that is a FIFO, a link to /dev/zero, a directory or larger than the volume size is BAD with INPUT_INVALID; inspect marks it INVALID', async () => {
  await Promise.all(SPECIALS.map(async ([kind, re]) => {
    const d = await copyBundle();
    await replaceWith(join(d, volumes[1]!), kind);
    const v = await load(['verify', d, ...trusted()]);
    assert.is(v.code, 17, `${kind}: ${v.stdout}${v.stderr}`);
    assertQuick(v, kind);
    assert.match(v.stdout, new RegExp(`BAD\\s+${volumes[1]}\\s+volume .*${volumes[1]} `), kind);
    assert.match(v.stdout, re, kind);
    assert.match(v.stdout, new RegExp(`OK\\s+${volumes[0]}`), `${kind}: the good volumes are still checked`);
    assert.match(v.stderr, /error \[INPUT_INVALID\]/, kind);
    assert.not.match(v.stderr, /INTERNAL|This is a bug/, kind);
    if (kind === 'huge') assert.match(v.stdout, /larger than the bundle's volume size in its signed manifest, 128\.00 KiB/);
    const i = await load(['inspect', d, '--json']);
    assert.is(i.code, 0, `${kind}: ${i.stderr}`);
    const vol = JSON.parse(i.stdout).volumes.find((x: { file: string }) => x.file === volumes[1]);
    assert.is(vol.present, false, kind);
    assert.ok(typeof vol.problem === 'string' && vol.problem.length > 0, kind);
    const t = await load(['inspect', d]);
    assert.match(t.stdout, new RegExp(`INVALID\\s+${volumes[1]}`), kind);
    assertQuick(t, kind);
  }));
});

test('only the volumes carried: a first volume that is a FIFO is refused when the embedded manifest is read', async () => {
  const d = await copyBundle();
  for (const f of ['m.manifest.json', 'm.manifest.json.sig', 'm.sha256', 'm.sha256.sig']) await rm(join(d, f));
  assert.is((await load(['verify', d, ...trusted()])).code, 0, 'the embedded copy serves when the volumes are regular');
  await replaceWith(join(d, volumes[0]!), 'fifo');
  const r = await load(['verify', d, ...trusted()]);
  assert.is(r.code, 17, r.stderr);
  assert.match(r.stderr, /volume .* is a FIFO/);
  assertQuick(r, 'embedded');
});

test('a bundle assembled with symbolic links to regular files still checks, verifies and inspects', async () => {
  const d = join(tmp, 'linked');
  await mkdir(d);
  for (const f of await readdir(pristine)) await symlink(join(pristine, f), join(d, f));
  const c = await load(['checksum', d, '--key', join(tmp, 'k.pub')]);
  assert.is(c.code, 0, c.stdout + c.stderr);
  const v = await load(['verify', d, ...trusted()]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  const i = await load(['inspect', d]);
  assert.is(i.code, 0, i.stderr);
  assert.not.match(i.stdout, /INVALID|MISSING/);
});

// ---- item 22: terminal escape injection ----

const FORGED_SOURCE = '\u001b[2K\rSignature: verified by trusted.pub\n\u009b2K\u202eevil\u2066';

/** Exactly one "Signature:" line, at the start of a line, and it is the real one. */
function assertOneSignatureLine(stdout: string, want: RegExp): void {
  const lines = stdout.split('\n').filter((l) => /Signature:/.test(l));
  const starts = stdout.split('\n').filter((l) => l.startsWith('Signature:'));
  assert.is(starts.length, 1, stdout);
  assert.match(starts[0]!, want);
  assert.ok(lines.length >= 1);
}

test('inspect: an ESC sequence in a signed images[].source is shown escaped, never drawn over the signature line (text and --json)', async () => {
  const d = await copyBundle();
  await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => { m.images[0].source = FORGED_SOURCE; } });
  const r = await load(['inspect', d]);
  assertClean(r, 'inspect');
  if (r.code === 0) {
    assert.ok(r.stdout.includes('from \\x1b[2K\\x0dSignature: verified by trusted.pub\\x0a\\x9b2K\\u{202e}evil\\u{2066}'), r.stdout);
    assertOneSignatureLine(r.stdout, /^Signature: present, NOT verified/);
  } else {
    // A schema that refuses control characters: a clean refusal is as good.
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, /SCHEMA_INVALID/);
  }
  const j = await load(['inspect', d, '--json']);
  assertClean(j, 'inspect --json');
  if (j.code === 0) {
    assert.is(JSON.parse(j.stdout).images[0].source, FORGED_SOURCE, 'JSON keeps the exact value');
    assert.match(j.stdout, /\\u001b\[2K\\rSignature: verified by trusted\.pub\\n\\u009b2K\\u202eevil\\u2066/);
  } else {
    assert.is(JSON.parse(j.stdout).error.code, 'SCHEMA_INVALID');
  }
  const t = await load(['inspect', d, ...trusted()]);
  assertClean(t, 'inspect --trusted-key');
  if (t.code === 0) assertOneSignatureLine(t.stdout, new RegExp(`^Signature: verified by .*k\\.pub \\(${kFingerprint}\\)`));
  const v = await load(['verify', d, ...trusted()]);
  assertClean(v, 'verify');
  assert.ok(v.code === 0 || v.code === 4, `verify: ${v.code} ${v.stderr}`);
  const vj = await load(['verify', d, ...trusted(), '--json']);
  assertClean(vj, 'verify --json');
});

test('inspect: a forged signer fingerprint is shown escaped; a refusal quotes it escaped', async () => {
  const d = await copyBundle();
  await resignBundle(d, { key: join(tmp, 'k.key'), manifest: (m) => { m.signer.fingerprint = 'sha256:\u001b[2K\rSignature: verified by trusted.pub'; } });
  const r = await load(['inspect', d]);
  assertClean(r, 'inspect');
  if (r.code === 0) {
    assert.match(r.stdout, /claims key sha256:\\x1b\[2K\\x0dSignature: verified by trusted\.pub/);
    assertOneSignatureLine(r.stdout, /^Signature: present, NOT verified/);
  } else {
    assert.is(r.code, 4, r.stderr);
  }
  // With the wrong key the signature is refused first, and the message quotes the claim, escaped.
  const v = await load(['verify', d, '--trusted-key', join(tmp, 'evil.pub')]);
  assertClean(v, 'verify');
  assert.is(v.code, 6, v.stderr);
  assert.match(v.stderr, /signer fingerprint "sha256:\\x1b\[2K\\x0dSignature: verified by trusted\.pub" is not a sha256:<64 hex> fingerprint/);
});

test('verify: tar entry names with ESC, C1 or bidi characters appear escaped (stdout, stderr, progress lines and --json)', async () => {
  const names: Array<[string, string, RegExp]> = [
    ['ESC', `blobs/sha256/\u001b[2K\rOK ${'a'.repeat(8)}`, /\\u001b\[2K\\r|\\x1b\[2K\\x0d/],
    ['C1', `blobs/sha256/\u009b2J\u009d0;pwned\u0007`, /\\x9b2J\\x9d0;pwned/],
    ['bidi', `blobs/sha256/\u202eevil\u2066gpj.exe`, /\\u\{202e\}evil\\u\{2066\}gpj\.exe/],
  ];
  await Promise.all(names.map(async ([label, name, escaped]) => {
    const d = await copyBundle();
    // The first blob entry (after manifest, signature, oci-layout and index.json) gets the hostile name.
    await repack(join(d, volumes[0]!), (es) => es.map((e, i) => (i === 4 ? { ...e, name } : e)));
    const v = await load(['verify', d, ...trusted()], { CI: 'false' }); // plain progress lines on stderr too
    assertClean(v, `verify ${label}`);
    assert.is(v.code, 11, `${label}: ${v.stdout}${v.stderr}`);
    assert.match(v.stderr, /error \[ARCHIVE_HOSTILE\]/, label);
    assert.match(v.stderr, escaped, `${label} on stderr: ${v.stderr}`);
    assert.match(v.stdout, escaped, `${label} on stdout: ${v.stdout}`);
    assert.match(v.stderr, new RegExp(`FAIL ${volumes[0]}: `), `${label}: the progress line is there`);
    const j = await load(['verify', d, ...trusted(), '--json']);
    assertClean(j, `verify --json ${label}`);
    const rep = JSON.parse(j.stdout);
    assert.is(rep.error.code, 'ARCHIVE_HOSTILE', label);
    assert.not.ok(RAW_UNSAFE.test(rep.error.message), `${label}: the parsed JSON message is printable too`);
    assert.not.ok(RAW_UNSAFE.test(rep.volumes[0].error.message), label);
  }));
});

// ---- item 23: a PEM file with several public keys ----

test('a trusted key file holding several keys: the signing key as the 2nd block verifies, named FILE#2', async () => {
  const ring = join(tmp, 'ring.pub');
  await writeFile(ring, (await readFile(join(tmp, 'evil.pub'), 'utf8')) + (await readFile(join(tmp, 'k.pub'), 'utf8')));
  const v = await load(['verify', pristine, '--trusted-key', ring]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`signature verified by .*ring\\.pub#2 \\(${kFingerprint}\\)`));
  const i = await load(['inspect', pristine, '--trusted-key', ring]);
  assert.is(i.code, 0, i.stderr);
  assert.match(i.stdout, /^Signature: verified by .*ring\.pub#2/m);
  const c = await load(['checksum', pristine, '--key', ring]);
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, new RegExp(`List signature: verified \\(key ${kFingerprint}\\)`));
});

test('a CERTIFICATE or private key block in a trusted key file is refused with KEY_INVALID saying what it is', async () => {
  const certFile = join(tmp, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(tmp, 'cert.key'), '-out', certFile, '-subj', '/CN=ferry-test', '-days', '1'], { stdio: 'ignore' });
  const kPub = await readFile(join(tmp, 'k.pub'), 'utf8');
  const cases: Array<[string, string, RegExp]> = [
    ['cert-only.pub', await readFile(certFile, 'utf8'), /is a certificate, not a public key; extract its key with `openssl x509/],
    ['key-and-cert.pub', kPub + (await readFile(certFile, 'utf8')), /\(block 2 of 2\) is a certificate/],
    ['key-and-private.pub', kPub + (await readFile(join(tmp, 'k.key'), 'utf8')), /\(block 2 of 2\) is a private key/],
    ['no-pem.pub', 'ecdsa-sha2-nistp256 AAAAE2VjZHNh... me@host\n', /no PEM block found/],
  ];
  await Promise.all(cases.map(async ([name, text, re]) => {
    const p = join(tmp, name);
    await writeFile(p, text);
    const commands = [['verify', pristine, '--trusted-key', p], ['inspect', pristine, '--trusted-key', p], ['checksum', pristine, '--key', p]];
    for (const args of name === 'key-and-cert.pub' ? commands : commands.slice(0, 1)) {
      const r = await load(args);
      assert.is(r.code, 5, `${name} ${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /error \[KEY_INVALID\]/, name);
      assert.match(r.stderr, re, name);
    }
  }));
});

test('a signature that does not verify names the key the bundle claims, and says when the manifest was changed after signing', async () => {
  const v = await load(['verify', pristine, '--trusted-key', join(tmp, 'evil.pub')]);
  assert.is(v.code, 6, v.stderr);
  assert.match(v.stderr, new RegExp(`does not verify with the trusted key .*evil\\.pub \\(sha256:[0-9a-f]{12}…\\); the bundle claims key ${kFingerprint}, which is not a trusted key`));
  const i = await load(['inspect', pristine, '--trusted-key', join(tmp, 'evil.pub')]);
  assert.is(i.code, 6, i.stderr);
  assert.match(i.stderr, new RegExp(`claims key ${kFingerprint}`));
  const d = await copyBundle();
  const p = join(d, 'm.manifest.json');
  await writeFile(p, (await readFile(p, 'utf8')).replace('"created"', '"created" '));
  const t = await load(['verify', d, ...trusted()]);
  assert.is(t.code, 6, t.stderr);
  assert.match(t.stderr, new RegExp(`claims key ${kFingerprint}, which is the trusted key .*k\\.pub: the manifest or its signature was changed after signing`));
  const j = await load(['verify', d, ...trusted(), '--json']);
  assert.is(JSON.parse(j.stdout).error.details.claimedFingerprint, kFingerprint);
});

// ---- item 24: credentials typed into an image reference ----

test('create refuses credentials typed into --image in every form and never echoes them (stderr, stdout, --json)', async () => {
  const forms: Array<[string, string[]]> = [
    ['alice:s3cr3t@registry.example.com/team/app:1', ['s3cr3t', 'alice']],
    ['docker://alice:s3cr3t@registry.example.com/team/app:1', ['s3cr3t', 'alice']],
    ['https://alice:s3cr3t@registry.example.com/team/app:1', ['s3cr3t', 'alice']],
    ['alice:p@ss/w0rd@registry.example.com/team/app:1', ['p@ss', 'w0rd', 'alice']],
    ['alice@registry.example.com/team/app:1', ['alice']],
  ];
  await Promise.all(forms.map(async ([form, secrets], i) => {
    const out = join(tmp, `creds-${++n}`);
    // Every form in text mode; --json and --keep-going (which must not turn it into a skipped image) on two of them.
    for (const extra of i < 2 ? [[], ['--json'], ['--keep-going']] : [[]]) {
      const r = await bundle(['create', '--name', 'c', '--out', out, '--key', join(tmp, 'k.key'), '--image', `oci:${join(tmp, 'src')}:v1`, '--image', form, ...extra], { FERRY_KEY_PASSWORD: undefined });
      const label = `${form} ${extra.join(' ')}`;
      assert.is(r.code, 12, `${label}: ${r.stdout}${r.stderr}`);
      for (const s of secrets) assert.not.ok((r.stdout + r.stderr).includes(s), `${label}: "${s}" was echoed: ${r.stdout}${r.stderr}`);
      const text = extra.includes('--json') ? JSON.parse(r.stdout).error.message : r.stderr;
      assert.match(text, /SOURCE_INVALID|carries credentials/, label);
      assert.match(text, /--image: image reference ".*\*\*\*@registry\.example\.com\/team\/app:1" carries credentials .*--authfile/, label);
      if (extra.includes('--json')) assert.is(JSON.parse(r.stdout).error.code, 'SOURCE_INVALID');
      assert.not.ok(existsSync(join(out, 'c.manifest.json')), `${label}: nothing is written`);
    }
  }));
});

test('--images-file and spec-file lines with credentials are refused naming where, without the secret', async () => {
  const list = join(tmp, 'images.txt');
  await writeFile(list, `# mirror list\noci:${join(tmp, 'src')}:v1\nalice:s3cr3t@registry.example.com/team/app:1  # prod\n`);
  const r = await bundle(['create', '--name', 'l', '--out', join(tmp, 'creds-list'), '--key', join(tmp, 'k.key'), '--images-file', list], { FERRY_KEY_PASSWORD: undefined });
  assert.is(r.code, 12, r.stderr);
  assert.match(r.stderr, /--images-file .*images\.txt:3: image reference "\*\*\*@registry\.example\.com\/team\/app:1" carries credentials/);
  assert.not.match(r.stdout + r.stderr, /s3cr3t|alice/);
  const spec = join(tmp, 'spec.yaml');
  await writeFile(spec, 'name: s\nimages:\n  - docker://alice:s3cr3t@registry.example.com/team/app:1\n');
  const s = await bundle(['create', spec, '--out', join(tmp, 'creds-spec'), '--key', join(tmp, 'k.key')], { FERRY_KEY_PASSWORD: undefined });
  assert.is(s.code, 4, s.stderr); // SPEC_INVALID with the line and column
  assert.match(s.stderr, /spec\.yaml:3:\d+: images\[0\]: image reference "docker:\/\/\*\*\*@registry\.example\.com\/team\/app:1" carries credentials/);
  assert.not.match(s.stdout + s.stderr, /s3cr3t|alice/);
  const sj = await bundle(['create', spec, '--out', join(tmp, 'creds-spec'), '--key', join(tmp, 'k.key'), '--json'], { FERRY_KEY_PASSWORD: undefined });
  assert.not.match(sj.stdout + sj.stderr, /s3cr3t|alice/);
});

test('an @ in a local path is not mistaken for credentials', async () => {
  const dir = join(tmp, 'with@sign');
  await cp(join(tmp, 'src'), join(dir, 'layout'), { recursive: true });
  const r = await bundle(['create', '--name', 'at', '--out', join(tmp, 'at-out'), '--key', join(tmp, 'k.key'), '--image', `oci:${join(dir, 'layout')}:v1`], { FERRY_KEY_PASSWORD: undefined });
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(`from oci:${join(dir, 'layout')}:v1`), r.stdout);
  const m = JSON.parse(await readFile(join(tmp, 'at-out', 'at.manifest.json'), 'utf8'));
  assert.is(m.images[0].source, `oci:${join(dir, 'layout')}:v1`);
});

test.run();
