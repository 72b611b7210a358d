import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError } from '@ferry/format-spec';
import { parseChartDestination } from '../../src/charts/destinations.js';
import { chartNextCommands } from '../../src/charts/next-commands.js';

test('each --charts form is recognised, with the name users see', () => {
  assert.equal(parseChartDestination('oci://harbor.local:8443/charts/team/'), { kind: 'oci', registry: 'harbor.local:8443', path: 'charts/team', text: 'oci://harbor.local:8443/charts/team' });
  const cm = parseChartDestination('chartmuseum+https://cm.local/tenant');
  assert.is(cm.kind, 'chartmuseum');
  assert.is(cm.text, 'chartmuseum+https://cm.local/tenant');
  const art = parseChartDestination('artifactory+https://jfrog.local/artifactory/helm-local');
  assert.is(art.text, 'artifactory+https://jfrog.local/artifactory/helm-local');
  assert.equal(parseChartDestination('dir:/srv/charts'), { kind: 'dir', path: '/srv/charts', text: 'dir:/srv/charts' });
});

test('credentials, other schemes and malformed destinations are refused, without echoing a password', () => {
  const bad: Array<[string, RegExp]> = [
    ['chartmuseum+https://u:s3cret@cm.local', /credentials/],
    ['oci://u:s3cret@harbor.local/charts', /credentials/],
    ['artifactory+https://jfrog.local/helm-local', /artifactory\/REPO/],
    ['ftp://x', /oci:\/\//],
    ['oci://harbor.local/Upper/Case', /repository path/],
    ['dir:', /needs a directory/],
  ];
  for (const [d, re] of bad) {
    assert.throws(() => parseChartDestination(d), (e: unknown) => isFerryError(e, 'USAGE') && re.test(e.message) && !e.message.includes('s3cret'), d);
  }
});

test('the next commands name the destination and the exact version', () => {
  const c = { name: 'web', version: '1.2.3+build.5' };
  assert.ok(chartNextCommands(c, parseChartDestination('oci://harbor.local/charts')).includes("helm install web oci://harbor.local/charts/web --version 1.2.3+build.5"));
  assert.ok(chartNextCommands(c, parseChartDestination('chartmuseum+https://cm.local')).some((l) => l.startsWith('helm repo add ferry https://cm.local')));
  assert.ok(chartNextCommands(c, parseChartDestination('artifactory+https://jfrog.local/artifactory/helm-local')).some((l) => l.includes('https://jfrog.local/artifactory/api/helm/helm-local')));
  assert.ok(chartNextCommands(c, parseChartDestination('dir:/srv/charts')).includes("helm install web '/srv/charts/web-1.2.3+build.5.tgz'") || chartNextCommands(c, parseChartDestination('dir:/srv/charts')).includes('helm install web /srv/charts/web-1.2.3+build.5.tgz'));
});

test.run();
