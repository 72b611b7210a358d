// safe-open.ts against real special files: FIFOs (mkfifo), links to /dev/zero, sparse huge
// files (truncate costs no disk), directories and sockets. Every case must fail fast: a guard
// turns a hang into a failure instead of a stuck suite.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, mkdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '../src/errors.js';
import { quickly } from '../../../test/helpers/fifo-guard.js';
import { openRegularFile, readRegularFile, statRegularFile } from '../src/safe-open.js';

let dir = '';
/** Every FIFO made here, for quickly() to release if a regression blocks on one. */
const fifos: string[] = [];
function mkfifo(p: string): void {
  execFileSync('mkfifo', [p]);
  fifos.push(p);
}
let server: Server | undefined;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-safe-open-'));
  await writeFile(join(dir, 'plain'), 'hello');
  await symlink(join(dir, 'plain'), join(dir, 'link-to-plain'));
  mkfifo(join(dir, 'fifo'));
  await symlink(join(dir, 'fifo'), join(dir, 'link-to-fifo'));
  await symlink('/dev/zero', join(dir, 'zero'));
  await mkdir(join(dir, 'a-dir'));
  await writeFile(join(dir, 'huge'), '');
  await truncate(join(dir, 'huge'), 3 * 1024 ** 3);
  await symlink(join(dir, 'nothing-here'), join(dir, 'dangling'));
  await symlink(join(dir, 'loop-b'), join(dir, 'loop-a'));
  await symlink(join(dir, 'loop-a'), join(dir, 'loop-b'));
  server = createServer();
  await new Promise<void>((r) => server!.listen(join(dir, 'sock'), r));
});
test.after(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});


async function refused(p: Promise<unknown>, code: string, re: RegExp): Promise<FerryError> {
  try {
    await quickly(p, fifos);
  } catch (e) {
    assert.instance(e, FerryError, String(e));
    const fe = e as FerryError;
    assert.is(fe.code, code, fe.message);
    assert.match(fe.message, re);
    return fe;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

test('a regular file, directly or through a symbolic link, is read', async () => {
  assert.is((await readRegularFile(join(dir, 'plain'), 'manifest', 100)).toString(), 'hello');
  assert.is((await readRegularFile(join(dir, 'link-to-plain'), 'manifest', 100)).toString(), 'hello');
  assert.is((await readRegularFile(join(dir, 'plain'), 'manifest', 5)).toString(), 'hello', 'exactly at the limit is fine');
  const fh = await openRegularFile(join(dir, 'link-to-plain'), 'volume', { maxBytes: 5 });
  await fh.close();
  assert.equal(await statRegularFile(join(dir, 'link-to-plain'), 'volume'), { size: 5 });
});

test('each kind of non-regular file is refused with INPUT_INVALID naming its kind, by every entry point', async () => {
  const kinds: Array<[string, RegExp]> = [
    ['fifo', /is a FIFO \(named pipe\), not a regular file/],
    ['link-to-fifo', /is a FIFO \(named pipe\) \(a symbolic link to .*fifo\)/],
    ['zero', /is a character device \(a symbolic link to \/dev\/zero\)/],
    ['a-dir', /is a directory/],
    ['sock', /is a socket/],
  ];
  for (const [name, re] of kinds) {
    const p = join(dir, name);
    await refused(readRegularFile(p, 'checksum list', 1024), 'INPUT_INVALID', re);
    await refused(openRegularFile(p, 'volume'), 'INPUT_INVALID', re);
    await refused(statRegularFile(p, 'volume'), 'INPUT_INVALID', re);
    const fe = await refused(readRegularFile(p, 'checksum list', 1024), 'INPUT_INVALID', /^checksum list /);
    assert.is(fe.details.file, p);
  }
});

test('a block device is refused too (when this machine has one)', async () => {
  const dev = ['/dev/loop0', '/dev/sda', '/dev/vda', '/dev/nvme0n1', '/dev/ram0'].find((d) => {
    try {
      return execFileSync('stat', ['-c', '%F', d]).toString().includes('block');
    } catch {
      return false;
    }
  });
  if (!dev) return;
  await refused(openRegularFile(dev, 'volume'), 'INPUT_INVALID', /is a block device/);
});

test('a file larger than the limit is refused before a byte is read, naming its size and the limit', async () => {
  const p = join(dir, 'huge');
  const fe = await refused(readRegularFile(p, 'checksum list', 1024 * 1024), 'INPUT_INVALID', /checksum list .*huge is 3\.00 GiB \(3221225472 bytes\), larger than any checksum list Ferry accepts, 1\.00 MiB \(1048576 bytes\)/);
  assert.is(fe.details.size, 3 * 1024 ** 3);
  assert.is(fe.details.limit, 1024 * 1024);
  await refused(openRegularFile(p, 'volume', { maxBytes: 4096, limitName: "the bundle's volume size" }), 'INPUT_INVALID', /larger than the bundle's volume size, 4\.00 KiB/);
  await refused(readRegularFile(join(dir, 'plain'), 'signature', 4), 'INPUT_INVALID', /is 5 bytes, larger than any signature Ferry accepts, 4 bytes/);
  // No limit asked: a regular file of any size opens (volumes are streamed).
  await (await quickly(openRegularFile(p, 'volume'))).close();
});

test('absent is INPUT_NOT_FOUND (statRegularFile: undefined); a link loop is INPUT_INVALID', async () => {
  await refused(readRegularFile(join(dir, 'absent'), 'manifest', 10), 'INPUT_NOT_FOUND', /manifest .*absent: not found/);
  await refused(readRegularFile(join(dir, 'dangling'), 'trusted key', 10), 'INPUT_NOT_FOUND', /a symbolic link to .*nothing-here\): the link points at nothing/);
  await refused(readRegularFile(join(dir, 'plain', 'below-a-file'), 'manifest', 10), 'INPUT_NOT_FOUND', /not found/);
  assert.is(await statRegularFile(join(dir, 'absent'), 'volume'), undefined);
  assert.is(await statRegularFile(join(dir, 'dangling'), 'volume'), undefined, 'a disc not yet mounted behind a link');
  await refused(readRegularFile(join(dir, 'loop-a'), 'manifest', 10), 'INPUT_INVALID', /symbolic links \(a link loop\)/);
});

test('control characters in a path are shown escaped in the message', async () => {
  const p = join(dir, 'evil\u001b[2K\u009b\u202e');
  mkfifo(p);
  const fe = await refused(readRegularFile(p, 'volume', 10), 'INPUT_INVALID', /evil\\x1b\[2K\\x9b\\u\{202e\} is a FIFO/);
  assert.not.match(fe.message, /[\u001b\u009b\u202e]/);
});

test.run();
