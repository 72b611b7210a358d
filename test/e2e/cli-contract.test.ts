// What users of skopeo, crane, helm and cosign expect of any CLI, on both of Ferry's: --version
// (with the format versions), `version --json`, -h on every command, shell completion for bash
// and zsh, "did you mean" for mistyped commands and options (exit 2), the exit-code table in
// --help, and words instead of symbols when the output is not a terminal or NO_COLOR is set.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli, loadCli } from '../helpers/cli.js';

const LOADER = ['checksum', 'verify', 'inspect', 'check', 'push', 'k8s', 'sbom', 'attestations', 'doctor', 'inventory', 'diff'];
const BUNDLER = ['keygen', 'create', 'diff', 'plan-media'];

test('--version and version --json: the release and the format versions it reads and writes', async () => {
  for (const [cli, name] of [[loadCli, 'ferry-load'], [bundleCli, 'ferry-bundle']] as const) {
    const v = await cli(['--version']);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^${name} \\d+\\.\\d+\\.\\d+\\nbundle format: reads 1, 2, 3, 4; writes 1, 2, 3, 4\\n`));
    const j = await cli(['version', '--json']);
    const doc = JSON.parse(j.stdout) as { program: string; version: string; formats: { reads: number[] } };
    assert.is(doc.program, name);
    assert.equal(doc.formats.reads, [1, 2, 3, 4]);
    assert.match(doc.version, /^\d+\.\d+\.\d+$/);
  }
});

/** The subcommands a CLI's own --help lists (so a command added later is covered too). */
async function listedCommands(cli: typeof loadCli, program: string): Promise<string[]> {
  const top = await cli(['--help']);
  assert.is(top.code, 0, top.stderr);
  return [...top.stdout.matchAll(new RegExp(`^  ${program} ([a-z0-9-]+)`, 'gm'))].map((m) => m[1]!);
}

test('-h and --help on every command explain it and end with the exit-code table (130 included)', async () => {
  for (const [cli, program, known] of [[loadCli, 'ferry-load', LOADER], [bundleCli, 'ferry-bundle', BUNDLER]] as const) {
    const cmds = await listedCommands(cli, program);
    for (const c of [...known, 'version', 'completion']) assert.ok(cmds.includes(c), `${program} --help lists ${c}: ${cmds.join(', ')}`);
    for (const c of cmds) {
      for (const flag of ['-h', '--help']) {
        const h = await cli([c, flag]);
        assert.is(h.code, 0, `${program} ${c} ${flag}: ${h.stderr}`);
        assert.match(h.stdout, new RegExp(`^${program} ${c}\\b`), `${program} ${c} ${flag} is its help, not its output`);
        assert.match(h.stdout, /Options:/, c);
        assert.match(h.stdout, /Exit codes: 0 /, c);
        assert.match(h.stdout, /130 INTERRUPTED/, c);
        assert.match(h.stdout, /24 SIGNATURE_POLICY/, c);
        assert.match(h.stdout, /25 BASELINE_MISSING/, c);
        assert.is(h.stderr, '', `${program} ${c} ${flag} writes nothing else`);
      }
    }
    const top = await cli(['-h']);
    assert.is(top.code, 0);
    assert.match(top.stdout, /130 INTERRUPTED/, `${program} -h`);
  }
});

test('mistyped commands and options: exit 2 with the closest spelling', async () => {
  const c = await loadCli(['psuh', '/media/usb']);
  assert.is(c.code, 2);
  assert.match(c.stderr, /unknown command "psuh"\. Did you mean push\?/);
  const o = await loadCli(['verify', '/nowhere', '--tusted-key', 'k.pub', '--jsno']);
  assert.is(o.code, 2);
  assert.match(o.stderr, /--tusted-key \(did you mean --trusted-key\?\)/);
  assert.match(o.stderr, /--jsno \(did you mean --json\?\)/);
  const b = await bundleCli(['craete']);
  assert.is(b.code, 2);
  assert.match(b.stderr, /Did you mean create\?/);
  const j = await loadCli(['verify', '/nowhere', '--tusted-key', 'k', '--json']);
  assert.is(j.code, 2);
  assert.is((JSON.parse(j.stdout) as { error: { code: string } }).error.code, 'USAGE', '--json still gets one JSON document');
});

test('completion bash|zsh prints a script; the script\'s callback lists subcommands and options', async () => {
  const bash = await loadCli(['completion', 'bash']);
  assert.is(bash.code, 0, bash.stderr);
  assert.match(bash.stdout, /###-begin-ferry-load-completions-###/);
  assert.match(bash.stdout, /complete -o bashdefault -o default -F/);
  const zsh = await bundleCli(['completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef ferry-bundle/);
  const cmds = await loadCli(['--get-yargs-completions', 'ferry-load', '']);
  for (const c of LOADER) assert.ok(cmds.stdout.split('\n').includes(c), `${c} in ${cmds.stdout}`);
  const opts = await loadCli(['--get-yargs-completions', 'ferry-load', 'push', '--']);
  assert.ok(opts.stdout.split('\n').includes('--require-signed-images'), opts.stdout);
});

test('off a terminal, and with NO_COLOR, status symbols are words (cron mail, grep)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
  try {
    await writeFile(join(dir, 'x.sha256'), `${'0'.repeat(64)}  x-001.tar.zst\n`);
    await writeFile(join(dir, 'x-001.tar.zst'), 'not it');
    const r = await loadCli(['checksum', join(dir, 'x.sha256')], { env: { NO_COLOR: '1' } });
    assert.is(r.code, 7, r.stdout + r.stderr);
    assert.not.match(r.stdout + r.stderr, /[✅❌⚠⏳⛔]/u);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--quiet (cron): nothing on success, one line on stderr for a failure, the exit code unchanged; --json still printed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cli-q-'));
  try {
    const { createHash } = await import('node:crypto');
    await writeFile(join(dir, 'x-001.tar.zst'), 'volume');
    await writeFile(join(dir, 'x.sha256'), `${createHash('sha256').update('volume').digest('hex')}  x-001.tar.zst\n`);
    const ok = await loadCli(['checksum', join(dir, 'x.sha256'), '--quiet']);
    assert.is(ok.code, 0, ok.stderr);
    assert.is(ok.stdout + ok.stderr, '', 'nothing at all on success');
    const j = await loadCli(['-q', 'checksum', join(dir, 'x.sha256'), '--json']);
    assert.is((JSON.parse(j.stdout) as { ok: boolean }).ok, true);
    await writeFile(join(dir, 'x-001.tar.zst'), 'damaged');
    const bad = await loadCli(['checksum', join(dir, 'x.sha256'), '--quiet']);
    assert.is(bad.code, 7);
    assert.is(bad.stdout, '');
    assert.match(bad.stderr, /checksum FAIL: x-001\.tar\.zst FAIL/);
    const v = await loadCli(['verify', dir, '--trusted-key', join(dir, 'none.pub'), '-q']);
    assert.is.not(v.code, 0);
    assert.match(v.stderr, /error \[/, 'errors are never quiet');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
