// Node.js Single Executable Applications (https://nodejs.org/api/single-executable-applications.html):
// a preparation blob made by `node --experimental-sea-config` and injected into a copy of the
// target runtime with postject. The blob must come from a runtime of the same version as the
// one it is injected into; with useCodeCache and useSnapshot false it holds no
// platform-specific code, so the linux-x64 runtime makes the blob for every platform (Node's
// docs: "When generating cross-platform SEAs … useCodeCache must be set to false"; a snapshot
// is platform-specific too, nodejs/node#53994).

import { execFile } from 'node:child_process';
import { copyFile, chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const { inject } = require('postject');
const run = promisify(execFile);

/** Fixed by Node.js: the fuse every official runtime carries, flipped by the injection. */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Make the blob of `mainScript` with `node` (the linux-x64 runtime of the pinned version).
 *  Every path in the config is relative to `workDir` (the script and the assets are copied
 *  there): the blob records them, and the same sources then give the same bytes wherever they
 *  are built, so anyone can rebuild an executable and compare it with SHA256SUMS. */
export async function makeBlob(node, mainScript, assets, workDir) {
  const names = {};
  for (const [name, path] of Object.entries(assets)) {
    await copyFile(path, join(workDir, `asset-${name}`));
    names[name] = `asset-${name}`;
  }
  if (resolve(mainScript) !== resolve(workDir, basename(mainScript))) await copyFile(mainScript, join(workDir, basename(mainScript)));
  await writeFile(join(workDir, 'sea-config.json'), JSON.stringify({ main: basename(mainScript), output: 'ferry-load.blob', disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, assets: names }, null, 2));
  await run(node, ['--experimental-sea-config', 'sea-config.json'], { cwd: workDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return readFile(join(workDir, 'ferry-load.blob'));
}

/** Copy `runtime` to `out` with `blob` injected (ELF or PE; no signing). */
export async function injectBlob(runtime, blob, out) {
  const tmp = `${out}.part`;
  await copyFile(runtime, tmp);
  await chmod(tmp, 0o755);
  await inject(tmp, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE, overwrite: true });
  await rename(tmp, out);
}
