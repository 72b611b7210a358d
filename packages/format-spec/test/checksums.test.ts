import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { formatChecksums, parseChecksums, sha256File, isFerryError } from '../src/index.js';

test('formatChecksums is what sha256sum -c reads; sha256File agrees with coreutils', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sums-'));
  try {
    await writeFile(join(dir, 'a-001.tar.zst'), Buffer.alloc(3 << 20, 1));
    await writeFile(join(dir, 'a.manifest.json'), '{}\n');
    const entries = [];
    for (const f of ['a.manifest.json', 'a-001.tar.zst']) entries.push({ sha256: (await sha256File(join(dir, f))).sha256, file: f });
    await writeFile(join(dir, 'a.sha256'), formatChecksums(entries));
    const out = execFileSync('sha256sum', ['-c', 'a.sha256'], { cwd: dir }).toString();
    assert.match(out, /a-001\.tar\.zst: OK/);
    const coreutils = execFileSync('sha256sum', ['a-001.tar.zst'], { cwd: dir }).toString().split(' ')[0];
    assert.is((await sha256File(join(dir, 'a-001.tar.zst'))).sha256, coreutils);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseChecksums accepts both text and binary markers, CRLF, and nothing else', () => {
  const h = 'a'.repeat(64);
  assert.equal(parseChecksums(`${h}  x-001.tar.zst\r\n${h} *x.manifest.json\n`, 'l'), [
    { sha256: h, file: 'x-001.tar.zst' }, { sha256: h, file: 'x.manifest.json' },
  ]);
  const refuse = (text: string, code: string) => assert.throws(() => parseChecksums(text, 'l'), (e: unknown) => isFerryError(e) && e.code === code, text);
  refuse(`${h}  ../etc/passwd\n`, 'ARCHIVE_HOSTILE');
  refuse(`${h}  /etc/passwd\n`, 'ARCHIVE_HOSTILE');
  refuse(`${h}  sub/x\n`, 'ARCHIVE_HOSTILE');
  refuse(`${h}  x\n${h}  x\n`, 'ARCHIVE_HOSTILE');
  refuse(`${h.slice(1)}  x\n`, 'SCHEMA_INVALID');
  refuse(`\\${h}  x\\nname\n`, 'SCHEMA_INVALID');
  refuse('', 'SCHEMA_INVALID');
});

test.run();
