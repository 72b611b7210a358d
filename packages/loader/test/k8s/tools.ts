// The independent readers the k8s tests check Ferry's files with: the real kubectl, and Python's
// tomllib (a complete TOML parser) for the node files.
//
// `kubectl create --dry-run=client -f FILE` needs an API server even though it sends nothing:
// it maps each document's apiVersion/kind to a resource through the server's discovery
// (/api, /apis) before it prints. No cluster runs here, so a loopback stub answers discovery
// with the real core/v1 entries for ConfigMap and Secret (and, where a test asks, the group
// versions of the CRD kinds, which only lets kubectl read those documents; their schemas are
// checked structurally by the tests). Schema validation needs the server's OpenAPI v2 document
// (protobuf), which only a real API server has, so these runs pass --validate=false: kubectl
// still parses every document, checks it names a kind the server serves, applies the
// namespace rules and prints the objects it would create.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run, type RunResult } from '../../../../test/helpers/cli.js';

export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p)) ?? 'kubectl';
export const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p)) ?? 'python3';

/** kubectl with no ambient kubeconfig or cache (HOME is a fresh directory). */
export async function kubectl(args: string[], opts: { home: string; kubeconfig?: string; input?: string; cwd?: string }): Promise<RunResult> {
  return run(KUBECTL, [...(opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig] : []), '--cache-dir', join(opts.home, 'cache'), ...args], {
    env: { HOME: opts.home, KUBECONFIG: opts.kubeconfig ?? join(opts.home, 'no-kubeconfig') },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
}

export interface CrdKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const CRD_KINDS: CrdKind[] = [
  { group: 'kyverno.io', version: 'v1', kind: 'ClusterPolicy', plural: 'clusterpolicies', namespaced: false },
  { group: 'policy.sigstore.dev', version: 'v1beta1', kind: 'ClusterImagePolicy', plural: 'clusterimagepolicies', namespaced: false },
  { group: 'config.openshift.io', version: 'v1', kind: 'ImageDigestMirrorSet', plural: 'imagedigestmirrorsets', namespaced: false },
];

export interface KubeStub {
  kubeconfig: string;
  home: string;
  /** Every path kubectl asked for (a test can show discovery was used, and nothing else was sent). */
  requests: string[];
  close(): Promise<void>;
}

/** A discovery-only API server on loopback; `crds` adds those kinds' group versions. */
export async function startKubeStub(opts: { crds?: boolean } = {}): Promise<KubeStub> {
  const home = await mkdtemp(join(tmpdir(), 'ferry-kubectl-'));
  const requests: string[] = [];
  const crds = opts.crds ? CRD_KINDS : [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    requests.push(`${req.method} ${path}`);
    const send = (o: unknown): void => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(o));
    };
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    if (req.method !== 'GET') {
      res.statusCode = 405;
      res.end('{}');
      return;
    }
    if (path === '/version') return send({ major: '1', minor: '32', gitVersion: 'v1.32.0-ferry-stub' });
    if (path === '/api') return send({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (path === '/api/v1') {
      return send({
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs, shortNames: ['cm'] },
          { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs },
        ],
      });
    }
    if (path === '/apis') {
      return send({
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: crds.map((c) => ({ name: c.group, versions: [{ groupVersion: `${c.group}/${c.version}`, version: c.version }], preferredVersion: { groupVersion: `${c.group}/${c.version}`, version: c.version } })),
      });
    }
    const crd = crds.find((c) => path === `/apis/${c.group}/${c.version}`);
    if (crd) return send({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${crd.group}/${crd.version}`, resources: [{ name: crd.plural, singularName: crd.kind.toLowerCase(), namespaced: crd.namespaced, kind: crd.kind, verbs }] });
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = join(home, 'kubeconfig');
  await writeFile(
    kubeconfig,
    ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: stub', '  cluster:', `    server: http://127.0.0.1:${port}`, 'contexts:', '- name: stub', '  context:', '    cluster: stub', 'current-context: stub', ''].join('\n'),
  );
  return {
    kubeconfig,
    home,
    requests,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** `kubectl create --dry-run=client --validate=false -f FILE -o yaml` against the stub: the objects kubectl would create. */
export async function kubectlCreateDryRun(stub: KubeStub, file: string, extra: string[] = []): Promise<{ r: RunResult; objects: Array<Record<string, unknown>> }> {
  const r = await kubectl(['create', '--dry-run=client', '--validate=false', '-f', file, '-o', 'yaml', ...extra], { home: stub.home, kubeconfig: stub.kubeconfig });
  if (r.code !== 0) return { r, objects: [] };
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown> | null).filter((o): o is Record<string, unknown> => o !== null);
  return { r, objects };
}

/** The documents of a YAML stream as plain objects (comment-only documents dropped, as kubectl does). */
export function yamlObjects(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw d.errors[0];
    return d.toJS() as Record<string, unknown> | null;
  }).filter((o): o is Record<string, unknown> => o !== null);
}

/** A TOML file as Python's tomllib reads it (JSON out), or the parser's error. */
export async function parseToml(file: string): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const r = await run(PYTHON, ['-c', 'import json,sys,tomllib\nwith open(sys.argv[1],"rb") as f: print(json.dumps(tomllib.load(f)))', file]);
  return r.code === 0 ? { ok: true, value: JSON.parse(r.stdout) as unknown } : { ok: false, error: r.stderr };
}
