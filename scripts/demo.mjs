#!/usr/bin/env node
// npm run demo: the whole job on the shipped examples, no server needed.
// keygen -> create (spec file, several small volumes) -> checksum -> verify -> inspect -> push
// into demo-out/oci (an OCI image layout) with files and keys in demo-out/oci-files and the chart
// into demo-out/charts (a static chart repository with index.yaml) -> check.
import { spawnSync } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'demo-out');
const bundle = join(out, 'bundle');
const bin = (pkg, name) => join(root, 'packages', pkg, 'bin', name);
const env = { ...process.env, FERRY_KEY_PASSWORD: 'demo-passphrase' };

function run(title, cmd, args, { allowFail = false } = {}) {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n$ ${[cmd === process.execPath ? 'node' : cmd, ...args].map((a) => a.replace(root, '')).join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0 && !allowFail) {
    process.stderr.write(`demo: "${title}" failed with exit code ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
  return r.status;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(bundle, { recursive: true });
const node = process.execPath;
run('1. Make a signing key (encrypted with FERRY_KEY_PASSWORD)', node, [bin('bundler', 'ferry-bundle.js'), 'keygen', '--out', join(out, 'ferry-demo')]);
run('2. Bundle examples/ (spec file: a two-platform image, a Helm chart, a file, a public key) into 128 KiB volumes', node, [
  bin('bundler', 'ferry-bundle.js'), 'create', 'examples/bundle.yaml', '--key', join(out, 'ferry-demo.key'), '--out', bundle,
]);
run('3. Transfer officer: check every volume against demo.sha256', node, [bin('loader', 'ferry-load.js'), 'checksum', join(bundle, 'demo.sha256'), '--trusted-key', join(out, 'ferry-demo.pub')]);
run('   ...the same check with plain coreutils', 'sh', ['-c', `cd "${bundle}" && sha256sum -c demo.sha256`]);
run('4. Operator: verify the signature and every blob (no registry needed)', node, [bin('loader', 'ferry-load.js'), 'verify', bundle, '--trusted-key', join(out, 'ferry-demo.pub')]);
run('5. Operator: what is inside?', node, [bin('loader', 'ferry-load.js'), 'inspect', bundle, '--trusted-key', join(out, 'ferry-demo.pub')]);
run('6. Operator: load into an OCI layout directory (files and keys beside it), the chart into a static chart repository', node, [
  bin('loader', 'ferry-load.js'), 'push', bundle, '--trusted-key', join(out, 'ferry-demo.pub'), '--to', `oci:${join(out, 'oci')}`, '--charts', `dir:${join(out, 'charts')}`, '--yes',
]);
run('   ...the chart repository helm reads (serve it over HTTP for helm repo add, or helm install the .tgz)', 'sh', ['-c', `ls "${join(out, 'charts')}" && sed -n 1,12p "${join(out, 'charts', 'index.yaml')}"`]);
const skopeo = spawnSync('skopeo', ['--version'], { stdio: 'ignore' });
if (skopeo.status === 0) {
  run('7. Read the loaded image back with skopeo (independent client)', 'skopeo', ['inspect', '--raw', `oci:${join(out, 'oci')}:ferry/demo:1.0`]);
}
run('8. Operator, later: is everything the bundle promises still in the target? (read-only)', node, [
  bin('loader', 'ferry-load.js'), 'check', bundle, '--trusted-key', join(out, 'ferry-demo.pub'), '--to', `oci:${join(out, 'oci')}`, '--charts', `dir:${join(out, 'charts')}`,
]);
process.stdout.write(`\n(With a registry: ferry-load push … --to registry.local:5000, then ferry-load check … --to registry.local:5000.)\n`);
process.stdout.write(`\nDemo complete. Bundle: demo-out/bundle/  Loaded layout: demo-out/oci/  Files and keys: demo-out/oci-files/  Charts: demo-out/charts/ (helm install demo demo-out/charts/demo-web-0.1.0.tgz)\n`);
