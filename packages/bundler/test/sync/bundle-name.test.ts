import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { datedBundleName, isSyncPrefix, utcDate } from '../../src/sync/bundle-name.js';

test('the date is UTC whatever the local zone, so two hosts name the same run alike', () => {
  // 23:30 on the 5th in New York is the 6th in UTC.
  assert.is(utcDate(new Date('2026-12-06T04:30:00Z')), '2026-12-06');
  assert.is(utcDate(new Date('2026-12-05T23:59:59-01:00')), '2026-12-06');
});

test('a second run on the same day gets .2, then .3: an earlier bundle is never reused', () => {
  const now = new Date('2026-12-06T03:00:00Z');
  const taken = new Set<string>();
  const names = [1, 2, 3].map(() => {
    const n = datedBundleName('cleanstart', now, (x) => taken.has(x));
    taken.add(n);
    return n;
  });
  assert.equal(names, ['cleanstart-2026-12-06', 'cleanstart-2026-12-06.2', 'cleanstart-2026-12-06.3']);
});

test('prefixes that would make an illegal or hostile bundle name are refused', () => {
  assert.ok(isSyncPrefix('cleanstart'));
  assert.ok(isSyncPrefix('site-a_weekly.v2'));
  for (const bad of ['', '../x', '/abs', 'a/b', '.hidden', '-dash', 'a\nb', 'a b', 'x'.repeat(81)]) assert.not.ok(isSyncPrefix(bad), JSON.stringify(bad));
});

test.run();
