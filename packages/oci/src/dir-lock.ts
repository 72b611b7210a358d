// A cross-process lock on a target directory: a file created with O_EXCL holding the holder's
// PID, host and process start time. Two ferry-load runs into one layout would otherwise both
// read-modify-rename index.json and lose each other's tags. A lock whose holder no longer runs
// (killed, power cut) is stale and taken over; the start time tells a reused PID from the holder.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { FerryError, printable } from '@ferry/format-spec';
import { createExclusive, targetFsError } from './target-dir.js';

interface LockRecord {
  pid: number;
  host: string;
  /** Linux: the process start time in clock ticks since boot (/proc/PID/stat field 22). */
  start?: string;
  token: string;
  since: string;
  what: string;
}

export interface DirLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** Shown to a second process: what the holder is doing, e.g. "loading into /srv/images". */
  what: string;
  /** Keep trying this long before giving up (0: fail at once). */
  waitMs?: number;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Does the process that wrote `r` still run? Unknown (another host) counts as yes. */
function holderAlive(r: LockRecord): boolean {
  if (r.host !== hostname()) return true;
  try {
    process.kill(r.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (r.start !== undefined) {
    const now = processStart(r.pid);
    if (now !== undefined && now !== r.start) return false; // the PID was reused
  }
  return true;
}

async function readRecord(path: string): Promise<LockRecord | undefined> {
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as Partial<LockRecord>;
    if (typeof doc.pid !== 'number' || typeof doc.host !== 'string' || typeof doc.token !== 'string') return undefined;
    return doc as LockRecord;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Take the lock file at `path` (its directory must exist). */
export async function acquireDirLock(path: string, opts: LockOptions): Promise<DirLock> {
  const me: LockRecord = {
    pid: process.pid,
    host: hostname(),
    ...(processStart(process.pid) !== undefined ? { start: processStart(process.pid)! } : {}),
    token: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
    what: opts.what,
  };
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await createExclusive(path, 0o644);
      try {
        await fh.writeFile(JSON.stringify(me));
      } finally {
        await fh.close();
      }
      return { path, release: () => releaseLock(path, me.token) };
    } catch (e) {
      if ((e as FerryError).details?.errno !== 'EEXIST') throw e;
    }
    const holder = await readRecord(path);
    if (holder && !holderAlive(holder)) {
      // Stale: move it aside under a unique name first, so of two processes that both saw it
      // stale only one removes it (the other's rename fails) and neither removes a fresh lock.
      const aside = `${path}.stale-${me.token}`;
      if (await rename(path, aside).then(() => true, () => false)) await unlink(aside).catch(() => undefined);
      continue;
    }
    if (!holder && attempt < 20) {
      // Being written right now (or damaged): look again shortly; a damaged one is stale.
      await sleep(25);
      if (attempt === 19) {
        const aside = `${path}.stale-${me.token}`;
        if (await rename(path, aside).then(() => true, () => false)) await unlink(aside).catch(() => undefined);
      }
      continue;
    }
    if (Date.now() < deadline) {
      await sleep(50);
      continue;
    }
    const who = holder ? `another ferry-load (PID ${holder.pid}${holder.host !== me.host ? ` on ${printable(holder.host)}` : ''}, since ${printable(holder.since)})` : 'another ferry-load';
    throw new FerryError('TARGET_BUSY', `${who} is ${printable(holder?.what ?? opts.what)}; lock file ${printable(path)}${holder && holder.host !== me.host ? ' (held from another host: if that run is over, remove the lock file)' : ''}`, {
      path,
      ...(holder ? { pid: holder.pid } : {}),
    });
  }
}

async function releaseLock(path: string, token: string): Promise<void> {
  const r = await readRecord(path);
  if (r?.token !== token) return; // not ours any more: never remove another holder's lock
  await unlink(path).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw targetFsError(e, path, 'cannot release the target lock');
  });
}
