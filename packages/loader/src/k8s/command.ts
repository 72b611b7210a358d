// `ferry-load k8s`: flags -> k8sOutputs -> stdout (one multi-document YAML stream) or --out DIR
// (one file each, written atomically); --json says what was made. --config supplies --to,
// --rewrite and --trusted-key as for push and check (its `force` is about charts and is not
// taken here).

import { asArray, writeJson, writeText } from '@ferry/cli-kit';
import { FerryError, loadTrustedKeys, printable } from '@ferry/format-spec';
import { readLoadConfig, withConfig } from '../load-config.js';
import { parseRewrite } from '../rewrite.js';
import { k8sOutputs, k8sStream, writeK8s, type K8sOutputs } from './index.js';

export interface K8sArgs {
  path: string;
  trustedKey?: string[];
  config?: string;
  to?: string;
  rewrite?: string[];
  imageKey?: string[];
  namespace?: string;
  out?: string;
  force: boolean;
  allowUnsigned: boolean;
  json: boolean;
}

const p = printable;

function nextSteps(o: K8sOutputs, out: string): string[] {
  const has = (path: string): boolean => o.files.some((f) => f.path === path);
  const d = p(out);
  return [
    'Next:',
    ...(has('cosign-keys.yaml') ? [`  kubectl apply -f ${d}/cosign-keys.yaml`, `  kubectl apply -f ${d}/kyverno/cluster-policy.yaml   (Kyverno)  or  -f ${d}/policy-controller/cluster-image-policy.yaml   (policy-controller)`] : []),
    ...(o.files.some((f) => f.path.startsWith('nodes/')) ? [`  copy ${d}/nodes/containerd/certs.d/* to /etc/containerd/certs.d/, or ${d}/nodes/containers/registries.conf.d/* to /etc/containers/registries.conf.d/, on every node`] : []),
    ...(has('openshift/image-digest-mirror-set.yaml') ? [`  OpenShift: oc apply -f ${d}/openshift/image-digest-mirror-set.yaml`] : []),
    `  ${d}/pull-secret.yaml.template is a TEMPLATE: replace its placeholders (or use the kubectl command in it) first`,
  ];
}

export async function k8sCmd(a: K8sArgs): Promise<number> {
  const cfg = a.config ? await readLoadConfig(a.config) : undefined;
  const merged = cfg ? withConfig({ trustedKey: a.trustedKey, rewrite: a.rewrite, to: a.to }, cfg) : { trustedKey: a.trustedKey, rewrite: a.rewrite, to: a.to };
  if (!merged.to) throw new FerryError('USAGE', 'give --to REGISTRY (the HOST[:PORT][/PREFIX] push loaded into), or to: in the --config file');
  const o = await k8sOutputs(a.path, {
    trustedKeys: await loadTrustedKeys(asArray(merged.trustedKey)),
    allowUnsigned: a.allowUnsigned,
    to: merged.to,
    rewrites: asArray(merged.rewrite).map(parseRewrite),
    imageKeys: asArray(a.imageKey),
    ...(a.namespace !== undefined ? { namespace: a.namespace } : {}),
  });
  const base = { bundle: o.bundle, target: o.target, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}), objectName: o.objectName, keys: o.keys, images: o.images, notes: o.notes };
  if (a.out === undefined) {
    if (a.json) writeJson({ ok: true, ...base, files: o.files.map((f) => ({ path: f.path, kind: f.kind, apply: f.apply, about: f.about, ...(f.name !== undefined ? { name: f.name } : {}), ...(f.namespace !== undefined ? { namespace: f.namespace } : {}), content: f.content })) });
    else writeText(k8sStream(o));
    return 0;
  }
  const written = await writeK8s(o, a.out, { force: a.force });
  if (a.json) {
    writeJson({ ok: true, ...base, out: a.out, files: written });
    return 0;
  }
  const width = Math.max(...written.map((w) => w.path.length));
  const lines = [
    `Bundle ${p(o.bundle)} in ${p(o.target)}: ${written.length} file(s) under ${p(a.out)}`,
    ...written.map((w) => `  ${w.status.padEnd(9)} ${p(w.path).padEnd(width)}  ${p(o.files.find((f) => f.path === w.path)?.about ?? '')}`),
    ...(o.notes.length ? ['Not covered:', ...o.notes.map((n) => `  - ${p(n)}`)] : []),
    ...nextSteps(o, a.out),
  ];
  writeText(lines.join('\n') + '\n');
  return 0;
}
