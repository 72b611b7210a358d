#!/usr/bin/env node
// npm run build:loader [-- --platforms linux-x64,linux-arm64,win-x64] [--out DIR] [--key ferry.key]
//
// Writes self-contained ferry-load executables (Node.js single executable applications) into
// dist/loader/: ferry-load-linux-x64, ferry-load-linux-arm64, ferry-load-win-x64.exe, plus
// SHA256SUMS over them and, with --key, SHA256SUMS.sig (Ferry's signature format, the same
// code that signs a bundle's manifest). The high side needs nothing installed to run them.
// Steps: pinned runtimes (loader-build/runtimes.mjs) -> one CommonJS script (bundle.mjs) ->
// SEA blob made by the pinned linux-x64 runtime -> injected into each platform's runtime
// (sea.mjs). An executable whose inputs (script, schemas, runtime version) are unchanged is
// kept as it is (its .stamp says what it was built from).

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NODE_VERSION, PLATFORMS, RUNTIMES, runtimeBinary } from './loader-build/runtimes.mjs';
import { bundleLoader } from './loader-build/bundle.mjs';
import { injectBlob, makeBlob } from './loader-build/sea.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCHEMAS = ['bundle-manifest.schema.json', 'bundle-spec.schema.json', 'load-config.schema.json', 'push-report.schema.json', 'inventory.schema.json'];

const { values } = parseArgs({
  options: {
    platforms: { type: 'string', default: PLATFORMS.join(',') },
    out: { type: 'string', default: join(ROOT, 'dist/loader') },
    cache: { type: 'string', default: process.env.FERRY_RUNTIME_CACHE || join(ROOT, '.tools/node-runtimes') },
    key: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const log = values.quiet ? () => {} : (m) => process.stderr.write(`build-loader: ${m}\n`);
const platforms = values.platforms.split(',').map((p) => p.trim()).filter(Boolean);
for (const p of platforms) if (!RUNTIMES[p]) throw new Error(`--platforms: unknown platform ${p} (one of ${PLATFORMS.join(', ')})`);
if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('build:loader runs on linux-x64 (the pinned linux-x64 runtime makes the SEA blob)');

const out = resolve(values.out);
const work = join(out, '.build');
await mkdir(work, { recursive: true });
const started = Date.now();

const mainScript = join(work, 'ferry-load.cjs');
await bundleLoader(mainScript);
const assets = Object.fromEntries(SCHEMAS.map((s) => [s, join(ROOT, 'schemas', s)]));
const stampHash = createHash('sha256').update(`node ${NODE_VERSION}\n`).update(await readFile(mainScript));
for (const s of SCHEMAS) stampHash.update(`\n${s}\n`).update(await readFile(assets[s]));
const stamp = stampHash.digest('hex');

let blob;
for (const p of platforms) {
  const exe = join(out, RUNTIMES[p].file);
  const stampFile = join(work, `${RUNTIMES[p].file}.stamp`);
  if (existsSync(exe) && existsSync(stampFile) && (await readFile(stampFile, 'utf8')).trim() === stamp) {
    log(`${RUNTIMES[p].file}: up to date`);
    continue;
  }
  blob ??= await makeBlob(await runtimeBinary('linux-x64', values.cache, log), mainScript, assets, work);
  await injectBlob(await runtimeBinary(p, values.cache, log), blob, exe);
  await writeFile(stampFile, `${stamp}\n`);
  log(`${RUNTIMES[p].file}: built (Node.js ${NODE_VERSION})`);
}

// SHA256SUMS over every executable present (GNU coreutils format: sha256sum -c reads it).
const lines = [];
for (const p of PLATFORMS) {
  const exe = join(out, RUNTIMES[p].file);
  if (!existsSync(exe)) continue;
  const h = createHash('sha256').update(await readFile(exe)).digest('hex');
  lines.push(`${h}  ${RUNTIMES[p].file}\n`);
}
const sums = Buffer.from(lines.join(''));
await writeFile(join(out, 'SHA256SUMS'), sums);
const sigPath = join(out, 'SHA256SUMS.sig');
if (values.key) {
  const { loadPrivateKey, signBytes } = await import('../packages/format-spec/dist/index.js');
  await writeFile(sigPath, signBytes(sums, await loadPrivateKey(values.key)));
  log(`SHA256SUMS signed with ${values.key}`);
} else {
  await rm(sigPath, { force: true }); // never leave a signature over an older list
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${out}`);
