// `--charts DEST`: which kind of chart repository a destination names. Credentials never sit in
// the destination (it is echoed in plans, logs and reports); they come from --creds/--authfile or
// a Helm repositories.yaml, like every other credential.

import { FerryError, printable } from '@ferry/format-spec';
import type { RegistryOptions } from '@ferry/oci';
import { ArtifactorySink, ChartmuseumSink, DirChartSink, OciChartSink, parseArtifactoryDestination, parseChartmuseumDestination, parseOciDestination, type ChartSink } from '@ferry/charts';

export type ChartDestination =
  /** `oci://HOST[:PORT]/PATH`: Helm's OCI layout (Harbor 2.8+, any OCI registry). */
  | { kind: 'oci'; registry: string; path: string; text: string }
  /** `chartmuseum+http(s)://HOST[:PORT][/PATH]`: ChartMuseum's upload API (`url` includes the tenant path). */
  | { kind: 'chartmuseum'; url: URL; text: string }
  /** `artifactory+http(s)://HOST/artifactory/REPO`: Artifactory's deploy API. */
  | { kind: 'artifactory'; url: URL; text: string }
  /** `dir:PATH`: a static chart repository (`.tgz` files and index.yaml). */
  | { kind: 'dir'; path: string; text: string };

const FORMS = 'oci://HOST[:PORT]/PATH, chartmuseum+http(s)://HOST[/PATH], artifactory+https://HOST/artifactory/REPO or dir:PATH';

/** Which kind a --charts value is; each form is parsed by its sink's own parser. */
export function parseChartDestination(dest: string): ChartDestination {
  if (dest.startsWith('dir:')) {
    const path = dest.slice(4);
    if (!path) throw new FerryError('USAGE', '--charts dir:PATH needs a directory');
    return { kind: 'dir', path, text: dest };
  }
  if (/^oci:\/\//i.test(dest)) {
    const { registry, path } = parseOciDestination(dest);
    return { kind: 'oci', registry, path, text: `oci://${registry}${path ? `/${path}` : ''}` };
  }
  if (/^chartmuseum\+/i.test(dest)) {
    const { server, tenant } = parseChartmuseumDestination(dest);
    const url = new URL(tenant ? `${tenant}/` : '', server);
    return { kind: 'chartmuseum', url, text: `chartmuseum+${url.href.replace(/\/+$/, '')}` };
  }
  if (/^artifactory\+/i.test(dest)) {
    const a = parseArtifactoryDestination(dest);
    const url = new URL(`${a.contextPath.replace(/^\//, '')}/${encodeURIComponent(a.repo)}${a.folder ? `/${a.folder}` : ''}`, a.server);
    return { kind: 'artifactory', url, text: `artifactory+${url.href.replace(/\/+$/, '')}` };
  }
  throw new FerryError('USAGE', `--charts ${printable(dest)}: use ${FORMS}`);
}

export interface ChartSinkFlags {
  /** Registry options (auth, TLS) for oci:// destinations: the same as for --to. */
  registry: RegistryOptions;
  /** --chart-creds / FERRY_CHART_CREDS for ChartMuseum and Artifactory. */
  creds?: string;
}

/** Open one sink per --charts value (parsed first, so a typo fails before anything opens). */
export function openChartSinks(dests: readonly string[], flags: ChartSinkFlags): ChartSink[] {
  const parsed = dests.map(parseChartDestination);
  const http = {
    ...(flags.creds ? { creds: flags.creds } : {}),
    ...(flags.registry.caFile ? { caFile: flags.registry.caFile } : {}),
    ...(flags.registry.insecure ? { insecure: flags.registry.insecure } : {}),
  };
  return parsed.map((d): ChartSink => {
    switch (d.kind) {
      case 'oci': return new OciChartSink(d.text, flags.registry);
      case 'chartmuseum': return new ChartmuseumSink(d.text, http);
      case 'artifactory': return new ArtifactorySink(d.text, http);
      case 'dir': return new DirChartSink(d.path);
    }
  });
}
