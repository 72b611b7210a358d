// Reading an SBOM file: the content decides the format; missing files, directories, files over
// the size limit and unknown formats are refused naming the file and (for the format) what is accepted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '@ferry/format-spec';
import { MAX_SBOM_BYTES } from '@ferry/trust';
import { readSbomFile } from '../../src/sbom/read.js';
import { rejectsCode } from '../../../../test/helpers/assert.js';

let dir = '';
const spdx = Buffer.from('{"spdxVersion":"SPDX-2.3","name":"app"}');
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-sbom-read-'));
  // Named .xml on purpose: the name never decides the format.
  await writeFile(join(dir, 'app.xml'), spdx);
  await symlink(join(dir, 'app.xml'), join(dir, 'link.json'));
  await mkdir(join(dir, 'adir'));
  await writeFile(join(dir, 'notes.txt'), 'just some notes\n');
  await writeFile(join(dir, 'big.json'), '');
  await truncate(join(dir, 'big.json'), MAX_SBOM_BYTES + 1); // sparse: no 64 MiB written
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a file is read whole, its format from the content, titled with its base name; a symlink is followed', async () => {
  const d = await readSbomFile(join(dir, 'app.xml'), '--sbom-file app=app.xml');
  assert.is(d.mediaType, 'application/spdx+json');
  assert.is(d.title, 'app.xml');
  assert.is(d.size, spdx.length);
  assert.is(d.digest, sha256Digest(spdx));
  assert.ok(d.bytes.equals(spdx));
  const l = await readSbomFile(join(dir, 'link.json'), '--sbom-file app=link.json');
  assert.is(l.title, 'link.json', 'the name given, not the target name');
  assert.is(l.digest, d.digest);
});

test('refusals name the file and say why', async () => {
  await rejectsCode(readSbomFile(join(dir, 'nope.json'), '--sbom-file app=nope.json'), 'SOURCE_NOT_FOUND', /--sbom-file app=nope\.json: the SBOM file .*nope\.json does not exist/);
  await rejectsCode(readSbomFile(join(dir, 'adir'), 'x'), 'SOURCE_INVALID', /the SBOM file .*adir is a directory/);
  const e = await rejectsCode(readSbomFile(join(dir, 'notes.txt'), 'x'), 'SOURCE_INVALID', /notes\.txt is not an SBOM format Ferry recognises: it is neither JSON, XML nor SPDX tag-value/);
  assert.match(e.message, /Accepted: SPDX JSON .*CycloneDX XML .*syft JSON/);
  await rejectsCode(readSbomFile(join(dir, 'big.json'), 'x'), 'SOURCE_INVALID', new RegExp(`big\\.json is ${MAX_SBOM_BYTES + 1} bytes, too large: ferry-load reads an SBOM of at most ${MAX_SBOM_BYTES} bytes`));
  // The limit holds on what is read too (a smaller limit, a file just over it).
  await rejectsCode(readSbomFile(join(dir, 'app.xml'), 'x', spdx.length - 1), 'SOURCE_INVALID', /too large/);
  assert.ok(await readSbomFile(join(dir, 'app.xml'), 'x', spdx.length), 'exactly the limit is fine');
});

test.run();
