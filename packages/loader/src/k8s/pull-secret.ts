// An image pull secret TEMPLATE for the target registry: type kubernetes.io/dockerconfigjson,
// the server filled in, the username and password left as placeholders for the operator. Ferry
// never writes a credential (it has none to write: --creds is never stored), so this file is
// never a working secret; it says so in its first lines. It is written as
// `pull-secret.yaml.template`, a name `kubectl apply -f DIR` skips, and on stdout it is a
// comment: applying Ferry's output can never replace a real secret with the placeholders.
//
// stringData carries the JSON in clear so the placeholders can be edited in place; there is no
// `auth` field, because the kubelet prefers it over username/password and a stale one would win.

import { yamlDocument, type OutputFile } from './output.js';

export const PULL_SECRET_NAME = 'ferry-pull';
export const PLACEHOLDER_USER = 'REPLACE-WITH-USERNAME';
export const PLACEHOLDER_PASSWORD = 'REPLACE-WITH-PASSWORD';

export function pullSecretTemplate(registry: string, namespace?: string): OutputFile {
  const config = { auths: { [registry]: { username: PLACEHOLDER_USER, password: PLACEHOLDER_PASSWORD } } };
  const doc = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PULL_SECRET_NAME, ...(namespace !== undefined ? { namespace } : {}) },
    type: 'kubernetes.io/dockerconfigjson',
    stringData: { '.dockerconfigjson': JSON.stringify(config, null, 2) + '\n' },
  };
  const ns = namespace !== undefined ? ` -n ${namespace}` : '';
  const comment = [
    'TEMPLATE, NOT A SECRET: Ferry writes no credentials. The username and password below are',
    `placeholders (${PLACEHOLDER_USER}, ${PLACEHOLDER_PASSWORD}); applied as it is, this secret`,
    'authenticates nobody.',
    '',
    'Either replace both placeholders, save the file as pull-secret.yaml and apply it, or leave',
    'the password out of any file and let kubectl build the same secret:',
    `  kubectl create secret docker-registry ${PULL_SECRET_NAME} --docker-server=${registry} --docker-username=USER --docker-password="$(cat PASSWORD-FILE)"${ns}`,
    `Pods use it with imagePullSecrets: [{name: ${PULL_SECRET_NAME}}] (or patch the namespace's default service account).`,
  ].join('\n');
  return {
    path: 'pull-secret.yaml.template',
    kind: 'Secret template',
    apply: false,
    about: `image pull secret TEMPLATE for ${registry}: placeholder credentials, replace them before use`,
    content: yamlDocument(doc, comment),
    name: PULL_SECRET_NAME,
    ...(namespace !== undefined ? { namespace } : {}),
  };
}
