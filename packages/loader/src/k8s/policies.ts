// Admission policies that let a pod run an image of the bundle only when its cosign signature
// verifies with the high side's key(s): a Kyverno ClusterPolicy (kyverno.io/v1 `verifyImages`)
// and a sigstore policy-controller ClusterImagePolicy (policy.sigstore.dev/v1beta1). Both match
// the repositories push wrote in the target (where the controllers can read the signatures push
// put beside them), both accept a signature by any one of the keys, and neither consults a
// transparency log: an air gap has none, and cosign signs for it with --tlog-upload=false.
//
// Kyverno: `imageReferences` are `REPO:*` and `REPO@*` (Kyverno's `*` also spans `/`, so
// `REPO*` would catch `REPO-other` too); `failureAction: Enforce`, `mutateDigest` (tags become
// the verified digest), `verifyDigest`, `required`; each key an entry of one attestor set with
// `count: 1`; `rekor.ignoreTlog: true` (its `url` is required by the schema and never contacted).
// The per-rule `failureAction` and `webhookConfiguration` are the v1 schema of Kyverno 1.13 on.
//
// policy-controller: `images[].glob` `REPO*` (its `*` stops at `/`; `@` cannot be written in a
// glob, and the digest form is what it checks after resolving a tag); one key authority per
// key (any one passing admits the image); no `ctlog`, so the transparency log is not checked.

import type { ImageKey } from './keys.js';
import type { ImageMapping } from './mapping.js';
import { yamlDocument, type OutputFile } from './output.js';

/** Each target repository once, in manifest order. */
export function loadedRepositories(m: ImageMapping): string[] {
  return [...new Set(m.images.map((i) => i.target))];
}

const allPems = (keys: readonly ImageKey[]): string[] => keys.flatMap((k) => k.pems);

export function kyvernoPolicy(m: ImageMapping, keys: readonly ImageKey[], bundle: string, objectName: string): OutputFile {
  const repos = loadedRepositories(m);
  const doc = {
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: {
      name: objectName,
      annotations: {
        'policies.kyverno.io/title': `Signed images of Ferry bundle ${bundle}`,
        'policies.kyverno.io/description': `Pods may run the images of bundle ${bundle} from ${m.registry} only when a cosign signature by one of the trusted keys verifies; tags are replaced by the verified digest.`,
      },
    },
    spec: {
      webhookConfiguration: { failurePolicy: 'Fail', timeoutSeconds: 30 },
      background: false,
      rules: [
        {
          name: 'verify-image-signatures',
          match: { any: [{ resources: { kinds: ['Pod'] } }] },
          verifyImages: [
            {
              imageReferences: repos.flatMap((r) => [`${r}:*`, `${r}@*`]),
              type: 'Cosign',
              failureAction: 'Enforce',
              mutateDigest: true,
              verifyDigest: true,
              required: true,
              attestors: [
                {
                  count: 1,
                  entries: allPems(keys).map((pem) => ({
                    keys: { publicKeys: pem, rekor: { ignoreTlog: true, url: 'https://rekor.sigstore.dev' } },
                  })),
                },
              ],
            },
          ],
        },
      ],
    },
  };
  const comment = [
    `Kyverno (1.13 or later): admit pods using the images of bundle ${bundle} only when signed by a trusted key.`,
    `Pods must name the images where Ferry put them (${m.registry}/...); Kyverno reads the signatures`,
    'from that registry, so it needs to reach it (and its credentials, for a private registry).',
    'Offline: the transparency log is not consulted (the rekor URL is required by the schema, never contacted).',
  ].join('\n');
  return {
    path: 'kyverno/cluster-policy.yaml',
    kind: 'ClusterPolicy',
    apply: true,
    about: 'clusters with Kyverno: kubectl apply -f',
    content: yamlDocument(doc, comment),
    name: objectName,
  };
}

export function policyControllerPolicy(m: ImageMapping, keys: readonly ImageKey[], bundle: string, objectName: string): OutputFile {
  const repos = loadedRepositories(m);
  const doc = {
    apiVersion: 'policy.sigstore.dev/v1beta1',
    kind: 'ClusterImagePolicy',
    metadata: { name: objectName },
    spec: {
      images: repos.map((r) => ({ glob: `${r}*` })),
      authorities: allPems(keys).map((pem, i) => ({ name: `key-${i + 1}`, key: { data: pem, hashAlgorithm: 'sha256' } })),
    },
  };
  const comment = [
    `sigstore policy-controller: admit the images of bundle ${bundle} only when signed by a trusted key.`,
    'It checks namespaces labelled policy.sigstore.dev/include=true; pods must name the images where',
    `Ferry put them (${m.registry}/...). No ctlog: the transparency log is not consulted (offline).`,
  ].join('\n');
  return {
    path: 'policy-controller/cluster-image-policy.yaml',
    kind: 'ClusterImagePolicy',
    apply: true,
    about: 'clusters with sigstore policy-controller: kubectl apply -f',
    content: yamlDocument(doc, comment),
    name: objectName,
  };
}
