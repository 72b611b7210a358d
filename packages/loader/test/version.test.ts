import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { FERRY_VERSION, printedVersion, versionText } from '../src/version.js';
import { VERSION } from '../../bundler/src/version.js';

test('ferry-load --version names the same Ferry version as ferry-bundle and the package', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.is(FERRY_VERSION, VERSION);
  assert.is(FERRY_VERSION, pkg.version);
});

test('the version line names the runtime, and says when it is the single executable', () => {
  assert.is(versionText({ ferry: '0.1.0', node: '24.21.0', platform: 'linux-x64', singleExecutable: true }), 'ferry-load 0.1.0 (Node.js 24.21.0, linux-x64, single executable)\n');
  assert.is(versionText({ ferry: '0.1.0', node: '20.20.2', platform: 'linux-x64', singleExecutable: false }), 'ferry-load 0.1.0 (Node.js 20.20.2, linux-x64)\n');
  assert.not.ok(printedVersion(['verify', '--version']));
  assert.not.ok(printedVersion([]));
});

test.run();
