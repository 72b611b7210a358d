#!/usr/bin/env node
// Runs every *.test.ts file in its own Node process (uvu + tsx, sources resolved through the
// "ferry-src" export condition), a few at a time, and prints one closing line that CI reads:
// "N passed, N failed". uvu's own summary is per file; we add the files up here.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv.slice(2);

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// Prerequisites first, within seconds: a missing tool must not surface as a hang or 50 confusing
// failures. Root on Debian installs them; anyone else is told the command.
if (!process.env.FERRY_SKIP_PREREQS) {
  const { spawnSync } = await import('node:child_process');
  const script = join(root, 'scripts', 'test-prereqs.sh');
  let check = spawnSync('bash', [script, '--check'], { encoding: 'utf8', timeout: 20_000 });
  if (check.status !== 0 && process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get'], { timeout: 5000 }).status === 0) {
    process.stdout.write(`${check.stderr.trim()}\ninstalling them (root, apt-get)…\n`);
    const inst = spawnSync('bash', [script, '--install'], { stdio: 'inherit', timeout: 15 * 60_000 });
    if (inst.status !== 0) process.stdout.write('the install failed; see above\n');
    check = spawnSync('bash', [script, '--check'], { encoding: 'utf8', timeout: 20_000 });
  }
  if (check.status !== 0) {
    process.stdout.write(`${(check.stderr || 'test prerequisites missing').trim()}\n\n0 passed, 1 failed\n`);
    process.exit(1);
  }
}

let files = [...find(join(root, 'test')), ...find(join(root, 'packages'))].sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const jobs = Math.max(1, Math.min(Number(process.env.FERRY_TEST_JOBS) || availableParallelism(), 4));
let passed = 0, failed = 0;
const failures = [];

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--conditions=ferry-src', '--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60 * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const ok = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const rel = relative(root, file);
      let p = 0, f = 0;
      if (Number.isFinite(total) && Number.isFinite(ok)) {
        p = ok;
        f = total - ok;
        if (code !== 0 && f === 0) f = 1; // crashed after the summary
      } else {
        f = 1; // the file did not even report: count it as one failure
      }
      if (total === 0 && code === 0) { f = 1; out += '\n(no test ran in this file)'; }
      passed += p;
      failed += f;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(`${f ? 'FAIL' : 'ok  '} ${rel}  (${p} passed, ${f} failed, ${secs}s)${signal ? ` killed by ${signal}` : ''}\n`);
      if (f) failures.push({ rel, out });
      resolve();
    });
  });
}

const queue = [...files];
await Promise.all(Array.from({ length: jobs }, async () => {
  while (queue.length) await runOne(queue.shift());
}));

for (const { rel, out } of failures) {
  process.stdout.write(`\n===== ${rel} =====\n${out}\n`);
}
if (files.length === 0) failed += 1;
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
