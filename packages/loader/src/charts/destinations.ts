// `--charts DEST`: which kind of chart repository a destination names. Credentials never sit in
// the destination (it is echoed in plans, logs and reports); they come from --creds/--authfile or
// a Helm repositories.yaml, like every other credential.

import { FerryError, printable } from '@ferry/format-spec';
import type { RegistryOptions } from '@ferry/oci';
import { ArtifactorySink, ChartmuseumSink, DirChartSink, OciChartSink, type ChartSink } from '@ferry/charts';

export type ChartDestination =
  /** `oci://HOST[:PORT]/PATH`: Helm's OCI layout (Harbor 2.8+, any OCI registry). */
  | { kind: 'oci'; registry: string; path: string; text: string }
  /** `chartmuseum+http(s)://HOST[:PORT][/PATH]`: ChartMuseum's upload API. */
  | { kind: 'chartmuseum'; url: URL; text: string }
  /** `artifactory+http(s)://HOST/artifactory/REPO`: Artifactory's deploy API. */
  | { kind: 'artifactory'; url: URL; text: string }
  /** `dir:PATH`: a static chart repository (`.tgz` files and index.yaml). */
  | { kind: 'dir'; path: string; text: string };

const FORMS = 'oci://HOST[:PORT]/PATH, chartmuseum+http(s)://HOST[/PATH], artifactory+https://HOST/artifactory/REPO or dir:PATH';

function httpUrl(rest: string, dest: string): URL {
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new FerryError('USAGE', `--charts ${printable(dest)}: not a URL; use ${FORMS}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FerryError('USAGE', `--charts ${printable(dest)}: use http:// or https:// after the + (${FORMS})`);
  if (url.username || url.password) throw new FerryError('USAGE', `--charts: credentials do not belong in the destination (it is printed in plans and reports); give them with --creds USER:PASSWORD or --authfile`);
  if (url.search || url.hash) throw new FerryError('USAGE', `--charts ${printable(dest)}: no query or fragment, please`);
  return url;
}

export function parseChartDestination(dest: string): ChartDestination {
  if (dest.startsWith('dir:')) {
    const path = dest.slice(4);
    if (!path) throw new FerryError('USAGE', '--charts dir:PATH needs a directory');
    return { kind: 'dir', path, text: dest };
  }
  if (dest.startsWith('oci://')) {
    const rest = dest.slice(6).replace(/\/+$/, '');
    if (rest.includes('@')) throw new FerryError('USAGE', `--charts: credentials do not belong in the destination; give them with --creds USER:PASSWORD or --authfile`);
    const slash = rest.indexOf('/');
    const registry = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? '' : rest.slice(slash + 1);
    if (!registry || !/^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/.test(registry)) throw new FerryError('USAGE', `--charts ${printable(dest)}: expected oci://HOST[:PORT]/PATH`);
    if (path && !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(path)) throw new FerryError('USAGE', `--charts ${printable(dest)}: ${printable(path)} is not a valid repository path (lowercase letters, digits, . _ - and /)`);
    return { kind: 'oci', registry, path, text: `oci://${rest}` };
  }
  const plus = /^(chartmuseum|artifactory)\+(.*)$/.exec(dest);
  if (plus) {
    const url = httpUrl(plus[2]!, dest);
    if (plus[1] === 'artifactory' && !/\/[^/]+\/?$/.test(url.pathname.replace(/\/+$/, '')) ) throw new FerryError('USAGE', `--charts ${printable(dest)}: name the Helm repository: artifactory+https://HOST/artifactory/REPO`);
    return { kind: plus[1] as 'chartmuseum' | 'artifactory', url, text: `${plus[1]}+${url.href.replace(/\/+$/, '')}` };
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
