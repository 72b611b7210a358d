// The chart group of `npm run bench`: N charts (packaged and indexed by the real helm, served by
// nginx) carried across and published into a real ChartMuseum and a static repository.
//
//   Ferry: ferry-bundle create --chart URL/NAME@VERSION ×N, then
//          ferry-load push --charts chartmuseum+URL --charts dir:D
//   peer:  the seed's script: helm pull ×N + tar | zstd, then zstd -dc | tar -x,
//          curl --data-binary POST /api/charts ×N, cp into D + helm repo index D

import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeChart, newHelm } from '../test/harness/helm.js';
import { startNginx } from '../test/harness/nginx.js';
import { startChartmuseum } from '../test/harness/chartmuseum.js';
import { goTool } from '../test/harness/tools.js';
import { timedAsync, type Measure } from './bench-measure.js';

export interface ChartsResult {
  charts: number;
  bytes: number;
  ferryCreate: Measure;
  ferryPush: Measure;
  peerPull: Measure;
  peerPublish: Measure;
}

export async function chartsScenario(out: string, count: number, bins: { bundle: string; load: string; key: string; pub: string }): Promise<ChartsResult> {
  const dir = join(out, 'charts');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const helm = await newHelm();
  const helmBin = await goTool('helm');
  const site = await startNginx();
  const museumF = await startChartmuseum();
  const museumP = await startChartmuseum();
  try {
    // Charts of realistic size: a few templates and a values file of some KiB each.
    mkdirSync(join(site.root, 'charts'), { recursive: true });
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const templates: Record<string, string> = {};
      for (let t = 0; t < 8; t++) templates[`t${t}.yaml`] = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-${t}\ndata:\n${Array.from({ length: 60 }, (_, k) => `  k${k}: "chart ${i} template ${t} value ${k}"`).join('\n')}\n`;
      const src = await makeChart(join(dir, 'src', `c${i}`), { name: `chart-${i}`, version: `1.${i}.0`, templates, values: Array.from({ length: 200 }, (_, k) => `v${k}: ${k}`).join('\n') + '\n' });
      const p = await helm.helmPackage(src, join(site.root, 'charts'));
      bytes += statSync(p.tgz).size;
    }
    await helm.helmRepoIndex(join(site.root, 'charts'), `${site.url}/charts`);
    const names = Array.from({ length: count }, (_, i) => ({ name: `chart-${i}`, version: `1.${i}.0` }));
    const env = `HOME=${helm.home} HELM_CONFIG_HOME=${helm.env.HELM_CONFIG_HOME} HELM_CACHE_HOME=${helm.env.HELM_CACHE_HOME} HELM_DATA_HOME=${helm.env.HELM_DATA_HOME}`;

    const charts = names.map((c) => `--chart ${site.url}/charts/${c.name}@${c.version}`).join(' ');
    const bundle = join(dir, 'bundle');
    const ferryCreate = await timedAsync(`charts: ferry-bundle create (${count} charts)`, `node ${bins.bundle} create --name ch --out ${bundle} --key ${bins.key} ${charts} --json > /dev/null`);
    const ferryPush = await timedAsync('charts: ferry-load push --charts cm + dir', `node ${bins.load} push ${bundle} --trusted-key ${bins.pub} --to oci:${join(dir, 'f-oci')} --charts chartmuseum+${museumF.url} --charts dir:${join(dir, 'f-static')} --yes --json > /dev/null`);

    const pulled = join(dir, 'p-pull');
    mkdirSync(pulled, { recursive: true });
    const pulls = names.map((c) => `${env} ${helmBin} pull --repo ${site.url}/charts ${c.name} --version ${c.version} -d ${pulled}`).join(' && ');
    const peerPull = await timedAsync(`charts: helm pull ×${count} + tar | zstd`, `${pulls} && tar -C ${pulled} -c . | zstd -3 -T0 -q -o ${join(dir, 'p.tar.zst')}`);
    const x = join(dir, 'p-x');
    const stat = join(dir, 'p-static');
    mkdirSync(x, { recursive: true });
    mkdirSync(stat, { recursive: true });
    const posts = names.map((c) => `curl -sf -o /dev/null --data-binary @${x}/${c.name}-${c.version}.tgz ${museumP.url}/api/charts`).join(' && ');
    const peerPublish = await timedAsync(`charts: tar -x + curl POST ×${count} + helm repo index`, `zstd -dc ${join(dir, 'p.tar.zst')} | tar -x -C ${x} && ${posts} && cp ${x}/*.tgz ${stat}/ && ${env} ${helmBin} repo index ${stat}`);
    writeFileSync(join(dir, 'done'), '');
    return { charts: count, bytes, ferryCreate, ferryPush, peerPull, peerPublish };
  } finally {
    await Promise.all([site.stop(), museumF.stop(), museumP.stop(), helm.cleanup()]);
  }
}
