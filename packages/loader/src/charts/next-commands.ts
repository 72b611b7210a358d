// The commands an operator runs after a chart is loaded, for the destination it went to: what
// `ferry-load inspect --charts DEST` and the docs print, so nobody has to work out a URL.

import type { BundleChart } from '@ferry/format-spec';
import type { ChartDestination } from './destinations.js';

const q = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Shell lines: add the repository where there is one, then install the chart. */
export function chartNextCommands(c: Pick<BundleChart, 'name' | 'version'>, dest?: ChartDestination): string[] {
  const v = `--version ${q(c.version)}`;
  const release = c.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 53);
  if (!dest) return [`ferry-load push PATH --trusted-key KEY.pub --charts dir:/srv/charts --yes`, `helm install ${release} /srv/charts/${q(`${c.name}-${c.version}.tgz`)}`];
  switch (dest.kind) {
    case 'oci': {
      const ref = `oci://${dest.registry}${dest.path ? `/${dest.path}` : ''}/${c.name}`;
      return [`helm show chart ${q(ref)} ${v}`, `helm install ${release} ${q(ref)} ${v}`];
    }
    case 'chartmuseum': {
      const url = dest.url.href.replace(/\/+$/, '');
      return [`helm repo add ferry ${q(url)} --username USER --password-stdin`, 'helm repo update ferry', `helm install ${release} ferry/${q(c.name)} ${v}`];
    }
    case 'artifactory': {
      // Helm reads Artifactory through its API path; a virtual repository in front is usual.
      const u = dest.url;
      const m = /^(.*\/artifactory)\/([^/]+)\/?$/.exec(u.pathname);
      const url = m ? `${u.origin}${m[1]}/api/helm/${m[2]}` : u.href;
      return [`helm repo add ferry ${q(url)} --username USER --password-stdin   # or your virtual Helm repository`, 'helm repo update ferry', `helm install ${release} ferry/${q(c.name)} ${v}`];
    }
    case 'dir':
      return [`helm install ${release} ${q(`${dest.path.replace(/\/+$/, '')}/${c.name}-${c.version}.tgz`)}`, `# or serve ${q(dest.path)} over HTTP (it has index.yaml): helm repo add ferry http://HOST/PATH && helm install ${release} ferry/${q(c.name)} ${v}`];
  }
}
