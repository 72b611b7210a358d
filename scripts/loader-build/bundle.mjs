// One CommonJS script of ferry-load for the SEA blob (a SEA main script is CommonJS and can
// require only builtins). esbuild bundles packages/loader/src/cli.ts from source (the ferry-src
// condition) with three substitutions, each because the executable cannot do what a build does:
// - yoga-layout (ink's layout engine) instantiates its WebAssembly with a top-level await,
//   which CommonJS cannot hold: a shim instantiates the same bytes synchronously (Emscripten's
//   instantiateWasm hook) and ink, loaded lazily by cli-kit's progress view, is unchanged;
// - zstd-napi is a native addon: the loader decodes with node:zlib (format-spec zstd-decode.ts)
//   and never encodes, so the addon becomes a stub that fails loudly if ever called;
// - import.meta.url, which the sources use to find files beside them, is the executable's URL;
//   schemas come from the SEA assets instead (format-spec schema-files.ts).

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const yogaShim = {
  name: 'yoga-sync',
  setup(build) {
    build.onLoad({ filter: /yoga-layout[\\/]dist[\\/]src[\\/]index\.js$/ }, async (args) => {
      const glueUrl = join(dirname(args.path), '../binaries/yoga-wasm-base64-esm.js');
      const glue = await readFile(glueUrl, 'utf8');
      const m = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/.exec(glue);
      if (!m) throw new Error(`${glueUrl}: no embedded wasm found (yoga-layout changed? see scripts/loader-build/bundle.mjs)`);
      return {
        resolveDir: dirname(args.path),
        contents: `
import loadYogaImpl from '../binaries/yoga-wasm-base64-esm.js';
import wrapAssembly from './wrapAssembly.js';
const wasm = Buffer.from(${JSON.stringify(m[1])}, 'base64');
const mod = {
  instantiateWasm(imports, receive) {
    receive(new WebAssembly.Instance(new WebAssembly.Module(wasm), imports));
    return {};
  },
};
loadYogaImpl(mod);
if (!mod.calledRun) throw new Error('yoga-layout did not initialise synchronously');
const Yoga = wrapAssembly(mod);
export default Yoga;
export * from './generated/YGEnums.js';
`,
      };
    });
  },
};

/** ink's reconciler awaits at its top level, only with DEV=true (React devtools and ink's own
 *  package.json for them): the executable has no devtools, so those two awaits go. */
const inkNoDevtools = {
  name: 'ink-no-devtools',
  setup(build) {
    build.onLoad({ filter: /ink[\\/]build[\\/]reconciler\.js$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      const swaps = [
        ["await import('./devtools.js');", 'void 0; // no React devtools in ferry-load'],
        ['? await loadPackageJson()', "? { name: 'ink', version: undefined }"],
      ];
      for (const [from, to] of swaps) {
        if (!text.includes(from)) throw new Error(`${args.path}: "${from}" not found (ink changed? see scripts/loader-build/bundle.mjs)`);
        text = text.replace(from, to);
      }
      return { contents: text, loader: 'js' };
    });
  },
};

const zstdNapiStub = {
  name: 'zstd-napi-stub',
  setup(build) {
    build.onResolve({ filter: /^zstd-napi(\/.*)?$/ }, () => ({ path: 'zstd-napi', namespace: 'ferry-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'ferry-stub' }, () => ({
      contents: `
const fail = () => { throw new Error('zstd-napi is not part of the ferry-load executable: it decodes with node:zlib and does not compress'); };
module.exports = new Proxy({}, { get: (_t, prop) => (prop === '__esModule' || typeof prop === 'symbol' ? undefined : fail()) });
`,
      loader: 'js',
    }));
  },
};

/** Bundle ferry-load into `outfile`; returns esbuild's metafile inputs (for the build stamp). */
export async function bundleLoader(outfile) {
  const result = await esbuild.build({
    stdin: {
      contents: `import { main } from './packages/loader/src/cli.ts';\nmain().then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 70; });\n`,
      resolveDir: ROOT,
      sourcefile: 'ferry-load-sea-main.ts',
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    outfile,
    conditions: ['ferry-src'],
    define: { 'process.env.NODE_ENV': '"production"', 'import.meta.url': '__ferry_import_meta_url' },
    banner: { js: 'const __ferry_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [yogaShim, inkNoDevtools, zstdNapiStub],
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    logOverride: { 'empty-import-meta': 'silent' },
  });
  return Object.keys(result.metafile.inputs);
}
