// The `cosign-keys` ConfigMap the seed makes with `kubectl create configmap cosign-keys
// --from-file=cosign.pub --namespace=NS --dry-run=client -o yaml`, byte for byte: one data key
// per key file (its base name, or NAME from NAME=FILE), the file's text as the value, keys in
// byte order, and the fields in kubectl's order (it includes `creationTimestamp: null`). No
// comment is added, so the file diffs clean against kubectl's own output.

import type { ImageKey } from './keys.js';
import { yamlDocument, type OutputFile } from './output.js';

export const COSIGN_KEYS_NAME = 'cosign-keys';

export function cosignKeysConfigMap(keys: readonly ImageKey[], namespace?: string): OutputFile {
  const data: Record<string, string> = {};
  for (const k of [...keys].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) data[k.name] = k.text;
  const doc = {
    apiVersion: 'v1',
    data,
    kind: 'ConfigMap',
    metadata: { creationTimestamp: null, name: COSIGN_KEYS_NAME, ...(namespace !== undefined ? { namespace } : {}) },
  };
  return {
    path: 'cosign-keys.yaml',
    kind: 'ConfigMap',
    apply: true,
    about: `the image-signing public key(s) for in-cluster verification (as kubectl create configmap ${COSIGN_KEYS_NAME} --from-file makes it)`,
    content: yamlDocument(doc),
    name: COSIGN_KEYS_NAME,
    ...(namespace !== undefined ? { namespace } : {}),
  };
}
