// Node mirror configuration: pulls of an image by its connected-side name (`gcr.io/team/app:1`,
// what charts and manifests still say) are served from where push put it.
//
// - containerd: one `certs.d/<source-host>/hosts.toml` per source registry (docs/hosts.md):
//   `server` the upstream, and a `[host."https://TARGET/v2/PREFIX"]` mirror with
//   `capabilities = ["pull", "resolve"]` (a private mirror may resolve tags) and
//   `override_path = true` when the target has a path (the URL then is the API root).
//   containerd appends the whole source path, so only mappings that keep it can be expressed.
// - CRI-O / podman: a registries.conf drop-in (containers-registries.conf(5)): per source prefix a
//   `[[registry]]` with the upstream as `location` and the target as `[[registry.mirror]]`; the
//   longest prefix wins and its match is replaced, so --rewrite renames are expressible too.
// - OpenShift: an ImageDigestMirrorSet with the same prefixes (the machine-config operator turns
//   it into that registries.conf), never contacting the source: there is none in an air gap.
//
// Every string written into TOML is checked against the characters a host, path or URL can
// hold here, so nothing taken from the bundle can break out of its quotes.

import { FerryError, printable } from '@ferry/format-spec';
import { DOCKER_HUB } from '@ferry/oci';
import { hostMirrors, prefixRules, type ImageMapping, type NotMirrored } from './mapping.js';
import { commentLines, yamlDocument, type OutputFile } from './output.js';

function tomlString(s: string): string {
  if (!/^[A-Za-z0-9._:/[\]@-]+$/.test(s)) throw new FerryError('INTERNAL', `refusing to write ${printable(s)} into a TOML file`);
  return `"${s}"`;
}

/** The upstream API host containerd would use for a registry name (Docker Hub's is not docker.io). */
function upstream(registry: string): string {
  return `https://${registry === DOCKER_HUB ? 'registry-1.docker.io' : registry}`;
}

/** `registry.local:5000/mirror` -> the hosts.toml host URL and whether the path overrides /v2. */
function mirrorHost(mirror: string): { url: string; overridePath: boolean } {
  const slash = mirror.indexOf('/');
  if (slash < 0) return { url: `https://${mirror}`, overridePath: false };
  return { url: `https://${mirror.slice(0, slash)}/v2/${mirror.slice(slash + 1)}`, overridePath: true };
}

export function containerdHosts(m: ImageMapping, bundle: string): { files: OutputFile[]; notes: NotMirrored[] } {
  const { hosts, notes } = hostMirrors(m);
  const files = hosts.map(({ registry, mirrors }): OutputFile => {
    const head = [
      `containerd mirror for ${registry}, written by ferry-load k8s from bundle ${bundle}.`,
      `Copy to /etc/containerd/certs.d/${registry}/hosts.toml on every node; containerd reads the`,
      'directory named by config_path ([plugins."io.containerd.cri.v1.images".registry] in 2.x,',
      '[plugins."io.containerd.grpc.v1.cri".registry] in 1.x). No restart is needed.',
      `Pulls of ${registry}/... try ${mirrors.length > 1 ? 'these mirrors in order (the next on 404)' : 'the mirror'}, then the upstream server last.`,
      'A private CA: put it on the node and add  ca = "/etc/containerd/certs.d/<dir>/ca.crt"  under each host.',
    ].join('\n');
    const lines = [commentLines(head).trimEnd(), `server = ${tomlString(upstream(registry))}`];
    for (const mirror of mirrors) {
      const h = mirrorHost(mirror);
      lines.push('', `[host.${tomlString(h.url)}]`, '  capabilities = ["pull", "resolve"]');
      if (h.overridePath) lines.push('  override_path = true');
    }
    return {
      path: `nodes/containerd/certs.d/${registry}/hosts.toml`,
      kind: 'containerd hosts.toml',
      apply: false,
      about: `containerd nodes: /etc/containerd/certs.d/${registry}/hosts.toml`,
      content: lines.join('\n') + '\n',
    };
  });
  return { files, notes };
}

export function registriesConf(m: ImageMapping, bundle: string, objectName: string): { file?: OutputFile; notes: NotMirrored[] } {
  const { rules, notes } = prefixRules(m);
  if (!rules.length) return { notes };
  const head = [
    `CRI-O / podman mirrors, written by ferry-load k8s from bundle ${bundle}.`,
    `Copy to /etc/containers/registries.conf.d/50-${objectName}.conf on every node (CRI-O reloads on SIGHUP).`,
    'Each prefix is pulled from its mirror, where Ferry put it; the upstream location is tried last.',
  ].join('\n');
  const lines = [commentLines(head).trimEnd()];
  for (const r of rules) {
    lines.push('', '[[registry]]', `prefix = ${tomlString(r.source)}`, `location = ${tomlString(r.source)}`, '', '[[registry.mirror]]', `location = ${tomlString(r.mirror)}`);
  }
  return {
    file: {
      path: `nodes/containers/registries.conf.d/50-${objectName}.conf`,
      kind: 'registries.conf',
      apply: false,
      about: `CRI-O/podman nodes: /etc/containers/registries.conf.d/50-${objectName}.conf`,
      content: lines.join('\n') + '\n',
    },
    notes,
  };
}

export function imageDigestMirrorSet(m: ImageMapping, bundle: string, objectName: string): OutputFile | undefined {
  const { rules } = prefixRules(m);
  if (!rules.length) return undefined;
  const doc = {
    apiVersion: 'config.openshift.io/v1',
    kind: 'ImageDigestMirrorSet',
    metadata: { name: objectName },
    spec: {
      imageDigestMirrors: rules.map((r) => ({ source: r.source, mirrors: [r.mirror], mirrorSourcePolicy: 'NeverContactSource' })),
    },
  };
  const comment = [
    `OpenShift: pulls by digest of the images of bundle ${bundle} come from where Ferry put them,`,
    'never from the source (there is none in an air gap). Pulls by tag need an ImageTagMirrorSet',
    'with the same entries, or pods that name the images by digest or by their target name.',
  ].join('\n');
  return {
    path: 'openshift/image-digest-mirror-set.yaml',
    kind: 'ImageDigestMirrorSet',
    apply: true,
    about: 'OpenShift clusters: oc apply -f (the machine-config operator writes the nodes\' registries.conf)',
    content: yamlDocument(doc, comment),
    name: objectName,
  };
}
