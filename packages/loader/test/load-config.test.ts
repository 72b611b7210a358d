import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFerryError } from '@ferry/format-spec';
import { readLoadConfig, withConfig } from '../src/load-config.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-load-config-'));
});

test('a load config anchors relative paths to its own directory; the command line adds to lists and wins over values', async () => {
  const p = join(dir, 'load.yaml');
  await writeFile(p, ['trustedKeys: [keys/ferry.pub]', 'to: oci:images', 'charts:', '  - dir:charts', '  - oci://harbor.local/charts', 'caFile: [ca.pem]', 'concurrency: 4', 'force: true', ''].join('\n'));
  const c = await readLoadConfig(p);
  assert.equal(c.trustedKeys, [join(dir, 'keys/ferry.pub')]);
  assert.is(c.to, `oci:${join(dir, 'images')}`);
  assert.equal(c.charts, [`dir:${join(dir, 'charts')}`, 'oci://harbor.local/charts']);
  assert.equal(c.caFile, [join(dir, 'ca.pem')]);
  const merged = withConfig({ to: 'registry.local:5000', charts: ['dir:/srv/more'], concurrency: undefined, force: false }, c);
  assert.is(merged.to, 'registry.local:5000', 'the flag wins');
  assert.equal(merged.charts, [`dir:${join(dir, 'charts')}`, 'oci://harbor.local/charts', 'dir:/srv/more'], 'lists add up');
  assert.is(merged.concurrency, 4);
  assert.is(merged.force, true);
});

test('unknown fields (a password, say) and wrong types are refused, naming the file', async () => {
  for (const [name, text, re] of [
    ['creds.yaml', 'to: x\npassword: hunter2\n', /must NOT have additional properties|password/],
    ['type.yaml', 'charts: dir:/x\n', /charts.*array/],
    ['yaml.yaml', 'to: [\n', /not valid YAML/],
  ] as const) {
    const p = join(dir, name);
    await writeFile(p, text);
    try {
      await readLoadConfig(p);
      assert.unreachable(name);
    } catch (e) {
      assert.ok(isFerryError(e, 'USAGE'), String(e));
      assert.match((e as Error).message, re, name);
      assert.ok((e as Error).message.includes(name), 'names the file');
      assert.not.ok((e as Error).message.includes('hunter2'));
    }
  }
});

test.run();
