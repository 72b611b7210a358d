// The shipped examples/sync files checked by independent tools, so they cannot drift from what
// works: the CronJob (and its ConfigMap, PVC) decoded into the real Kubernetes API types with
// strict field checks (k8s-strict, built from k8s.io/api), the systemd units by
// `systemd-analyze verify`, and every ferry-bundle flag the crontab, the unit and the CronJob
// pass is one `ferry-bundle sync --help` lists. The drop script runs for real in weekly-sync.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli, run } from '../helpers/cli.js';
import { goTool } from '../harness/tools.js';
import { loadSpecFile } from '../../packages/bundler/src/spec-file.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ex = (p: string): string => join(root, 'examples/sync', p);
let tmp = '';
let syncFlags = new Set<string>();

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-sync-examples-'));
  const help = await bundleCli(['sync', '--help']);
  assert.is(help.code, 0, help.stderr);
  syncFlags = new Set([...help.stdout.matchAll(/--([a-z][a-z-]+)/g)].map((m) => m[1]!));
  assert.ok(syncFlags.has('state-dir') && syncFlags.has('skip-if-unchanged'), help.stdout);
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Flags of a ferry-bundle command line that sync --help does not list (a `no-` prefix is yargs' negation). */
function unknownFlags(args: string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!).filter((f) => !syncFlags.has(f) && !syncFlags.has(f.replace(/^no-/, '')));
}

interface K8sObject { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: Record<string, unknown> }

test('the CronJob, its ConfigMap and PVC decode strictly into the Kubernetes API types, and their references agree', async () => {
  const r = await run(await goTool('k8s-strict'), [ex('low-side/cronjob.yaml')]);
  assert.is(r.code, 0, r.stderr);
  const objects = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as K8sObject);
  assert.equal(objects.map((o) => o.kind), ['ConfigMap', 'PersistentVolumeClaim', 'CronJob']);
  const [cm, pvc, cj] = objects as [K8sObject, K8sObject, K8sObject];
  const spec = cj.spec as { concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: { containers: Array<{ command: string[]; args: string[]; volumeMounts: Array<{ name: string; mountPath: string }> }>; volumes: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string; items?: Array<{ key: string; path: string }> }; persistentVolumeClaim?: { claimName: string } }> } } } } };
  assert.is(spec.concurrencyPolicy, 'Forbid', 'two runs never overlap');
  const pod = spec.jobTemplate.spec.template.spec;
  const c = pod.containers[0]!;
  assert.equal(c.command, ['ferry-bundle']);
  assert.is(c.args[0], 'sync');
  assert.equal(unknownFlags(c.args), []);
  const arg = (f: string): string => c.args.find((a) => a.startsWith(`--${f}=`))!.split('=')[1]!;
  const mountOf = (vol: string): string => c.volumeMounts.find((m) => m.name === vol)!.mountPath;
  const vol = (pred: (v: (typeof pod.volumes)[number]) => boolean) => pod.volumes.find(pred)!;
  // The spec comes from the ConfigMap, credentials from a dockerconfigjson Secret as config.json.
  const specVol = vol((v) => v.configMap?.name === cm.metadata.name);
  assert.is(c.args[1], join(mountOf(specVol.name), 'sync.yaml'));
  assert.ok(cm.data?.['sync.yaml']);
  const auth = vol((v) => v.secret?.items?.some((i) => i.key === '.dockerconfigjson') ?? false);
  assert.is(arg('authfile'), join(mountOf(auth.name), auth.secret!.items!.find((i) => i.key === '.dockerconfigjson')!.path));
  const data = vol((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name);
  for (const f of ['state-dir', 'out']) assert.ok(arg(f).startsWith(mountOf(data.name) + '/'), `--${f} is on the claim`);
  // The embedded spec is a valid Ferry spec.
  await writeFile(join(tmp, 'cm-sync.yaml'), cm.data!['sync.yaml']!);
  const loaded = await loadSpecFile(join(tmp, 'cm-sync.yaml'));
  assert.is(loaded.name, 'cleanstart');
});

test('k8s-strict refuses what the API server would: an unknown field, a bad schedule, a mount without a volume', async () => {
  const text = await readFile(ex('low-side/cronjob.yaml'), 'utf8');
  for (const [from, to, re] of [
    ['concurrencyPolicy: Forbid', 'concurrencyPolcy: Forbid', /unknown field "spec.concurrencyPolcy"|unknown field "concurrencyPolcy"/],
    ['schedule: "0 3 * * 0"', 'schedule: "0 3 * * 8"', /schedule/],
    ['- {name: tmp, mountPath: /tmp}', '- {name: scratch, mountPath: /tmp}', /mounts volume "scratch"/],
  ] as Array<[string, string, RegExp]>) {
    assert.ok(text.includes(from), from);
    await writeFile(join(tmp, 'bad.yaml'), text.replace(from, to));
    const r = await run(await goTool('k8s-strict'), [join(tmp, 'bad.yaml')]);
    assert.is(r.code, 1, `${to}: ${r.stdout}`);
    assert.match(r.stderr, re);
  }
});

test('the systemd units verify cleanly (systemd-analyze verify), and a broken one does not', async () => {
  const units = ['low-side/ferry-sync.service', 'low-side/ferry-sync.timer', 'high-side/ferry-load-drop.service', 'high-side/ferry-load-drop.timer', 'high-side/ferry-load-drop.path'];
  for (const u of units) {
    const dest = join(tmp, u.split('/')[1]!);
    // ExecStart must name an existing executable for verify; the rest of the unit is as shipped.
    await writeFile(dest, (await readFile(ex(u), 'utf8')).replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true'));
  }
  const names = units.map((u) => join(tmp, u.split('/')[1]!));
  const ok = await run('systemd-analyze', ['verify', ...names], { cwd: tmp });
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stderr.trim(), '', 'no warnings');
  await copyFile(names[0]!, join(tmp, 'broken.service'));
  await writeFile(join(tmp, 'broken.service'), (await readFile(names[0]!, 'utf8')).replace('Type=oneshot', 'Typ=oneshot'));
  const bad = await run('systemd-analyze', ['verify', join(tmp, 'broken.service')], { cwd: tmp });
  assert.match(bad.stderr, /Unknown key/);
});

test('the crontab line and the unit run ferry-bundle sync with flags it has, on a weekly schedule', async () => {
  const cron = (await readFile(ex('low-side/crontab'), 'utf8')).split('\n').filter((l) => /^\d/.test(l));
  assert.is(cron.length, 1);
  const fields = cron[0]!.split(/\s+/);
  assert.equal(fields.slice(0, 5), ['0', '3', '*', '*', '0'], 'Sunday 03:00');
  assert.is(fields[5], 'ferry', 'runs as its own user');
  const cmd = fields.slice(6, fields.indexOf('||'));
  assert.equal(cmd.slice(0, 2), ['ferry-bundle', 'sync']);
  assert.equal(unknownFlags(cmd), []);
  const unit = await readFile(ex('low-side/ferry-sync.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/);
  assert.is(exec[1], 'sync');
  assert.equal(unknownFlags(exec), []);
  // The low-side spec as shipped is a valid Ferry spec.
  assert.is((await loadSpecFile(ex('low-side/sync.yaml'))).name, 'cleanstart');
  // The drop script is valid bash.
  const n = await run('bash', ['-n', ex('high-side/ferry-load-drop.sh')]);
  assert.is(n.code, 0, n.stderr);
});

test.run();
