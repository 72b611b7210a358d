// npm test checks its prerequisites up front (scripts/test-prereqs.sh --check): a machine
// without a tool is told which Debian packages and the command, within seconds, never a hang.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/test-prereqs.sh', import.meta.url));

test('a missing skopeo and tmux are named with the packages and the install command', async () => {
  const bin = await mkdtemp(join(tmpdir(), 'ferry-prereqs-'));
  try {
    // Everything the script itself needs and the other tools, but not skopeo nor tmux.
    for (const t of ['bash', 'env', 'id', 'docker-registry', 'zstd', 'openssl', 'htpasswd', 'gpg', 'sha256sum', 'script', 'tar', 'kubectl', 'go']) {
      const found = spawnSync('sh', ['-c', `command -v ${t} || ls /usr/local/go/bin/${t} 2>/dev/null`], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
      if (found) await symlink(found, join(bin, t));
    }
    const started = Date.now();
    const r = spawnSync('/bin/bash', [script, '--check'], { encoding: 'utf8', env: { PATH: bin }, timeout: 20_000 });
    assert.ok(Date.now() - started < 10_000, 'within seconds');
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /missing test prerequisites \(Debian packages\):.*skopeo/);
    assert.match(r.stderr, /tmux/);
    assert.match(r.stderr, /apt-get install -y --no-install-recommends .*skopeo/);
    const all = spawnSync('/bin/bash', [script, '--check'], { encoding: 'utf8', timeout: 20_000 });
    assert.is(all.status, 0, `this machine has them all: ${all.stderr}`);
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
});

test.run();
