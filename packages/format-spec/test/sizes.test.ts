import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isFerryError } from '../src/errors.js';
import { VOLUME_PRESETS, formatSize, parseVolumeSize } from '../src/sizes.js';

test('plain byte counts', () => {
  assert.is(parseVolumeSize('4294967295'), 4294967295);
  assert.is(parseVolumeSize(' 1024 '), 1024);
  assert.is(parseVolumeSize('1'), 1);
  assert.is(parseVolumeSize('100b'), 100);
});

test('decimal units: K/M/G/T and KB/MB/GB/TB are powers of 1000', () => {
  assert.is(parseVolumeSize('700M'), 700_000_000);
  assert.is(parseVolumeSize('700MB'), 700_000_000);
  assert.is(parseVolumeSize('4.7GB'), 4_700_000_000);
  assert.is(parseVolumeSize('2k'), 2000);
  assert.is(parseVolumeSize('1T'), 1e12);
  assert.is(parseVolumeSize('1tb'), 1e12);
});

test('binary units: KiB/MiB/GiB/TiB are powers of 1024, case-insensitive', () => {
  assert.is(parseVolumeSize('1KiB'), 1024);
  assert.is(parseVolumeSize('2MiB'), 2 * 1024 * 1024);
  assert.is(parseVolumeSize('4gib'), 4 * 1024 ** 3);
  assert.is(parseVolumeSize('1TIB'), 1024 ** 4);
  assert.is(parseVolumeSize('1.5GiB'), 1.5 * 1024 ** 3);
});

test('decimals, with and without a space before the unit', () => {
  assert.is(parseVolumeSize('1.5G'), 1_500_000_000);
  assert.is(parseVolumeSize('1.5 G'), 1_500_000_000);
  assert.is(parseVolumeSize('.5K'), 500);
  // Fractions of a byte round down, never up past the request.
  assert.is(parseVolumeSize('1.0001K'), 1000);
});

test('presets', () => {
  assert.is(parseVolumeSize('usb-fat32'), 4 * 1024 ** 3 - 1);
  assert.is(parseVolumeSize('USB-FAT32'), 4 * 1024 ** 3 - 1);
  const dvd = parseVolumeSize('dvd');
  assert.ok(dvd < 4_700_372_992 && dvd > 4_600_000_000, `dvd ${dvd}`);
  const dl = parseVolumeSize('dvd-dl');
  assert.ok(dl < 8_543_666_176 && dl > 8_400_000_000);
  const bd25 = parseVolumeSize('bd25');
  assert.ok(bd25 < 25_025_314_816 && bd25 > 24_500_000_000);
  const bd50 = parseVolumeSize('bd50');
  assert.ok(bd50 < 50_050_629_632 && bd50 > 49_000_000_000 && bd50 > bd25);
  assert.equal(Object.keys(VOLUME_PRESETS).sort(), ['bd25', 'bd50', 'dvd', 'dvd-dl', 'usb-fat32']);
  for (const [name, p] of Object.entries(VOLUME_PRESETS)) {
    assert.ok(Number.isSafeInteger(p.bytes) && p.bytes > 0, name);
    assert.ok(p.description.length > 10, name);
  }
});

function usage(s: string, match: RegExp): void {
  try {
    parseVolumeSize(s);
  } catch (e) {
    assert.ok(isFerryError(e, 'USAGE'), `${s}: ${String(e)}`);
    assert.match((e as Error).message, match);
    return;
  }
  assert.unreachable(`${JSON.stringify(s)} was accepted`);
}

test('garbage, zero, negative and fractional bytes are USAGE errors', () => {
  usage('', /not a size/);
  usage('abc', /not a size/);
  usage('4 GB please', /not a size/);
  usage('1e9', /not a size/);
  usage('5 bananas', /unknown unit "bananas"/);
  usage('12XB', /unknown unit "XB"/);
  usage('0', /at least 1 byte/);
  usage('0GiB', /at least 1 byte/);
  usage('-5', /positive/);
  usage('-1G', /positive/);
  usage('1.5', /whole number/);
  usage('1.2.3G', /not a size/);
  usage('99999999999999999999T', /too large/);
  usage('dvdx', /usb-fat32, dvd, dvd-dl, bd25, bd50/);
  usage('constructor', /not a size|unknown unit/);
});

test('formatSize', () => {
  assert.is(formatSize(512), '512 bytes');
  assert.is(formatSize(1536), '1.50 KiB (1536 bytes)');
  assert.is(formatSize(4 * 1024 ** 3 - 1), '4.00 GiB (4294967295 bytes)');
});

test.run();
