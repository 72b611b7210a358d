// Format detection from content: each accepted format, the look-alikes that are refused, and that
// every media type detected is one @ferry/trust (ferry-load sbom) maps to a known format.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sbomFormatOf } from '@ferry/trust';
import { SbomMediaTypes, detectSbomFormat } from '../../src/sbom/format.js';

const j = (v: unknown): Buffer => Buffer.from(JSON.stringify(v, null, 2));
const media = (b: Buffer): string => {
  const d = detectSbomFormat(b);
  if ('reason' in d) assert.unreachable(`refused: ${d.reason}`);
  return (d as { mediaType: string }).mediaType;
};
const reason = (b: Buffer): string => {
  const d = detectSbomFormat(b);
  if ('mediaType' in d) assert.unreachable(`accepted as ${d.mediaType}`);
  return (d as { reason: string }).reason;
};

const SAMPLES = {
  spdxJson: j({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'app', dataLicense: 'CC0-1.0', packages: [] }),
  cdxJson: j({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [] }),
  spdxTag: Buffer.from('SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: app\n'),
  cdxXml: Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by cyclonedx-cli -->\n<bom xmlns="http://cyclonedx.org/schema/bom/1.5" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">\n  <components/>\n</bom>\n'),
  syft: j({ artifacts: [], artifactRelationships: [], source: { type: 'image' }, descriptor: { name: 'syft', version: '1.18.1' }, schema: { version: '16.0.18', url: 'https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.18.json' } }),
};

test('each accepted format is recognised from its content, as the media type ferry-load reads', () => {
  assert.is(media(SAMPLES.spdxJson), SbomMediaTypes.spdxJson);
  assert.is(media(SAMPLES.cdxJson), SbomMediaTypes.cyclonedxJson);
  assert.is(media(SAMPLES.spdxTag), SbomMediaTypes.spdxTagValue);
  assert.is(media(SAMPLES.cdxXml), SbomMediaTypes.cyclonedxXml);
  assert.is(media(SAMPLES.syft), SbomMediaTypes.syftJson);
  const formats = Object.values(SAMPLES).map((b) => sbomFormatOf(media(b)));
  assert.equal(formats, ['spdx-json', 'cyclonedx-json', 'spdx-tag-value', 'cyclonedx-xml', 'syft-json']);
});

test('variants: a UTF-8 BOM, a prefixed CycloneDX root, syft known by its schema URL only, tag-value after comments', () => {
  assert.is(media(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), SAMPLES.spdxJson])), SbomMediaTypes.spdxJson);
  assert.is(media(Buffer.from('<cdx:bom xmlns:cdx="http://cyclonedx.org/schema/bom/1.4" version="1"></cdx:bom>')), SbomMediaTypes.cyclonedxXml);
  assert.is(media(j({ artifacts: [], schema: { url: 'https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.0.json' } })), SbomMediaTypes.syftJson);
  assert.is(media(Buffer.from('## Document Information\n\nSPDXVersion: SPDX-2.2\n')), SbomMediaTypes.spdxTagValue);
});

test('look-alikes and non-SBOMs are refused with the reason', () => {
  assert.match(reason(Buffer.alloc(0)), /empty/);
  assert.match(reason(j({ name: 'package.json', version: '1.0.0' })), /none of spdxVersion/);
  assert.match(reason(j({ bomFormat: 'cyclonedx' })), /none of spdxVersion/, 'bomFormat is case-sensitive');
  assert.match(reason(j({ artifacts: [], descriptor: { name: 'grype' } })), /none of spdxVersion/, 'artifacts alone is not syft');
  assert.match(reason(j([1, 2])), /not an object/);
  assert.match(reason(Buffer.from('{"spdxVersion": "SPDX-2.3",')), /not valid JSON/);
  assert.match(reason(Buffer.from('<bom version="1"></bom>')), /namespace is not declared/);
  assert.match(reason(Buffer.from('<bom xmlns="http://example.com/bom"></bom>')), /namespace is "http:\/\/example.com\/bom"/);
  assert.match(reason(Buffer.from('<cdx:bom xmlns="http://cyclonedx.org/schema/bom/1.5"></cdx:bom>')), /namespace is not declared/, 'the prefix of the root must be the one bound');
  assert.match(reason(Buffer.from('<html><body>bom</body></html>')), /root element <html>/);
  assert.match(reason(Buffer.from('name: app\nversion: 1\n')), /neither JSON, XML nor SPDX tag-value/);
  assert.match(reason(Buffer.from([0xff, 0xfe, 0x00, 0x53])), /not UTF-8/);
  assert.match(reason(Buffer.from('SPDXVersion: SPDX-2.3\n\u0000')), /NUL/);
});

test.run();
