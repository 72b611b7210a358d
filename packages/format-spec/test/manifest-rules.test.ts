// validateManifest on signed-but-hostile manifests: every rule in manifest-rules.ts, each
// variant of a class separately, against one manifest that uses every field the format has.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { isFerryError } from '../src/errors.js';
import { BUNDLE_MEDIA_TYPE_V1, type BundleManifest } from '../src/manifest-types.js';
import { findControlCharacter } from '../src/manifest-rules.js';
import { SCHEMAS_DIR, newAjv, validateManifest } from '../src/schema.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const hex = (digest: string): string => digest.slice(7);
const IDX = 'application/vnd.oci.image.index.v1+json';
const MAN = 'application/vnd.oci.image.manifest.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** config c, layer l (split over two volumes), platform manifest m, root index x; a cosign
 *  signature s with its layer 5; a carried file f and key k. */
function rich(): BundleManifest {
  return {
    schemaVersion: 1,
    mediaType: BUNDLE_MEDIA_TYPE_V1,
    name: 'rich',
    created: '2026-11-26T00:00:00Z',
    tool: { name: 'ferry', version: '0.1.0' },
    signer: { algorithm: 'ecdsa-p256', fingerprint: d('9') },
    compression: { algorithm: 'zstd', level: 3, framing: 'entry', seekTable: true },
    volumeSize: 1_000_000,
    volumes: [{ index: 1, file: 'rich-001.tar.zst' }, { index: 2, file: 'rich-002.tar.zst' }],
    layoutIndex: { digest: d('8'), size: 200 },
    images: [{
      source: 'ghcr.io/team/app:1',
      repository: 'team/app',
      tag: '1',
      digest: d('a'),
      mediaType: IDX,
      size: 300,
      platformFilter: { mode: 'filtered', requested: ['linux/arm64/v8'], sourceIndex: { digest: d('7'), size: 900, mediaType: IDX }, target: 'ferry-index' },
      platforms: [{ platform: { os: 'linux', architecture: 'arm64', variant: 'v8', 'os.version': '1', 'os.features': ['x'] }, digest: d('b') }],
      blobs: [d('c'), d('e'), d('b'), d('a')],
      referrers: [{ digest: d('f'), mediaType: MAN, size: 400, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', scheme: 'cosign-tag', tag: `sha256-${hex(d('a'))}.sig`, subject: d('a'), blobs: [d('5'), d('f')] }],
    }],
    files: [{ path: 'docs/readme.txt', digest: d('1'), size: 10, integrity: 'sha512-' + 'A'.repeat(86) + '==', mode: 0o644 }],
    keys: [{ path: 'keys/cosign.pub', digest: d('2'), size: 178, algorithm: 'ecdsa-p256', fingerprint: d('3') }],
    blobs: [
      { digest: d('c'), size: 50, mediaType: 'application/vnd.oci.image.config.v1+json', kind: 'config', volume: 1 },
      { digest: d('e'), size: 9000, mediaType: LAYER, kind: 'layer', segments: [{ volume: 1, index: 1, offset: 0, size: 4000, digest: d('4') }, { volume: 2, index: 2, offset: 4000, size: 5000, digest: d('6') }] },
      { digest: d('b'), size: 500, mediaType: MAN, kind: 'manifest', volume: 2 },
      { digest: d('a'), size: 300, mediaType: IDX, kind: 'index', volume: 2 },
      { digest: d('5'), size: 250, mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', kind: 'layer', volume: 2 },
      { digest: d('f'), size: 400, mediaType: MAN, kind: 'manifest', volume: 2 },
      { digest: d('1'), size: 10, mediaType: 'application/octet-stream', kind: 'file', volume: 2 },
      { digest: d('2'), size: 178, mediaType: 'application/x-pem-file', kind: 'key', volume: 2 },
    ],
  };
}

type M = ReturnType<typeof rich>;
const change = (f: (m: M) => void): M => {
  const m = rich();
  f(m);
  return m;
};
const refuses = (m: unknown, re: RegExp, what = re.source): void =>
  assert.throws(() => validateManifest(structuredClone(m), 'rich.manifest.json'), (e: unknown) => {
    if (!isFerryError(e, 'SCHEMA_INVALID')) return false;
    if (!re.test(e.message)) throw new Error(`${what}: ${e.message} does not match ${re}`);
    if (!e.message.startsWith('rich.manifest.json: ')) throw new Error(`${what}: does not name the manifest: ${e.message}`);
    if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(e.message)) throw new Error(`${what}: raw control character in the message`);
    return true;
  }, what);
const accepts = (m: unknown, what: string): void => {
  try {
    validateManifest(structuredClone(m), 'rich.manifest.json');
  } catch (e) {
    assert.unreachable(`${what}: ${String(e)}`);
  }
};

const schemaOnly = newAjv().compile(JSON.parse(readFileSync(`${SCHEMAS_DIR}bundle-manifest.schema.json`, 'utf8')) as object);

test('the rich manifest, using every field, is valid', () => {
  accepts(rich(), 'rich');
  assert.ok(schemaOnly(rich()), JSON.stringify(schemaOnly.errors));
});

// Every string the manifest carries, and where to put an odd character into it.
const STRING_FIELDS: Array<[string, (m: M, s: string) => void]> = [
  ['/files/0/path', (m, s) => void (m.files[0]!.path = `x${s}/../../../tmp/f`)],
  ['/keys/0/path', (m, s) => void (m.keys[0]!.path = `keys/k${s}.pub`)],
  ['/images/0/tag', (m, s) => void (m.images[0]!.tag = `1${s}`)],
  ['/images/0/repository', (m, s) => void (m.images[0]!.repository = `team/app${s}`)],
  ['/images/0/source', (m, s) => void (m.images[0]!.source = `ghcr.io/team/app:1${s}evil`)],
  ['/name', (m, s) => void (m.name = `rich${s}`)],
  ['/created', (m, s) => void (m.created = `2026-11-26T00:00:00Z${s}`)],
  ['/tool/version', (m, s) => void (m.tool.version = `0.1.0${s}`)],
  ['/images/0/mediaType', (m, s) => void (m.images[0]!.mediaType = `${IDX}${s}`)],
  ['/images/0/referrers/0/artifactType', (m, s) => void (m.images[0]!.referrers![0]!.artifactType = `application/x${s}`)],
  ['/images/0/referrers/0/tag', (m, s) => void (m.images[0]!.referrers![0]!.tag = `sha256-${hex(d('a'))}.sig${s}`)],
  ['/keys/0/algorithm', (m, s) => void (m.keys[0]!.algorithm = `ecdsa-p256${s}`)],
  ['/images/0/platforms/0/platform/os', (m, s) => void (m.images[0]!.platforms[0]!.platform.os = `linux${s}`)],
  ['/images/0/platforms/0/platform/architecture', (m, s) => void (m.images[0]!.platforms[0]!.platform.architecture = `arm64${s}`)],
  ['/images/0/platforms/0/platform/variant', (m, s) => void (m.images[0]!.platforms[0]!.platform.variant = `v8${s}`)],
  ['/images/0/platforms/0/platform/os.version', (m, s) => void (m.images[0]!.platforms[0]!.platform['os.version'] = `1${s}`)],
  ['/images/0/platforms/0/platform/os.features/0', (m, s) => void (m.images[0]!.platforms[0]!.platform['os.features'] = [`x${s}`])],
  ['/images/0/platformFilter/requested/0', (m, s) => void ((m.images[0]!.platformFilter as { requested: string[] }).requested[0] = `linux/arm64${s}`)],
  ['/files/0/integrity', (m, s) => void (m.files[0]!.integrity = `sha512-${'A'.repeat(86)}==${s}`)],
  ['/blobs/0/digest', (m, s) => void (m.blobs[0]!.digest = `${d('c')}${s}`)],
];
// C0 (NUL, TAB, LF, CR, ESC), DEL, C1 (NEL, CSI), and the Unicode line and paragraph separators.
const ODD = ['\u0000', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029'];

test('a control character or U+2028/U+2029 in any string is refused in code, naming where', () => {
  for (const [pointer, put] of STRING_FIELDS) {
    for (const c of ODD) {
      const m = change((x) => put(x, c));
      refuses(m, new RegExp(`: ${pointer.replace(/\./g, '\\.')} holds a control character or line separator: "`), `${pointer} U+${c.codePointAt(0)!.toString(16)}`);
      assert.equal(findControlCharacter(m)?.pointer, pointer);
    }
  }
  // In object keys too (ahead of additionalProperties), and in unknown places.
  refuses({ ...rich(), 'x\u001b': 1 }, /: \/x\\x1b holds a control character or line separator: "x\\x1b"/);
  assert.is(findControlCharacter(rich()), undefined);
});

test('the schema refuses the same characters on its own, in every string field', () => {
  for (const [pointer, put] of STRING_FIELDS) {
    for (const c of ODD) {
      const m = change((x) => put(x, c));
      assert.not.ok(schemaOnly(m), `schema accepts U+${c.codePointAt(0)!.toString(16)} in ${pointer}`);
      assert.ok(schemaOnly.errors!.some((e) => e.instancePath === pointer || pointer.startsWith(`${e.instancePath}/`)), `${pointer}: ${JSON.stringify(schemaOnly.errors)}`);
    }
  }
});

test('carried paths: every rule of bundlePathProblem, for files and keys', () => {
  // The schema pattern catches most (named /files/0/path), code the rest (named files[0].path).
  const cases: Array<[string, string]> = [
    ['.ferry/state.json', '"\\.ferry/state\\.json" starts with \\.ferry/, which is reserved'],
    ['.Ferry/lock', '"\\.Ferry/lock" starts with \\.ferry/, which is reserved'],
    [`docs/${'s'.repeat(300)}`, '"docs/s+" has a segment of 300 bytes, more than 255'],
    // 128 two-byte characters: within the schema's 255-character segment, over NAME_MAX in bytes.
    [`docs/${'é'.repeat(128)}`, '"docs/é+" has a segment of 256 bytes, more than 255'],
    ['docs/', '"docs/" ends with a slash'],
    ['docs//x', '"docs//x" has an empty segment \\(a double slash\\)'],
    ['/etc/passwd', '"/etc/passwd" is absolute'],
    ['../up', `"\\.\\./up" has a '\\.\\.' segment`],
    ['a/./b', `"a/\\./b" has a '\\.' segment`],
    ['a\\b', '"a\\\\b" holds a backslash'],
    ['', '"" is empty'],
  ];
  for (const [p, why] of cases) {
    for (const list of ['files', 'keys'] as const) {
      const m = change((x) => void (x[list][0]!.path = p));
      refuses(m, new RegExp(`(${list}\\[0\\]\\.path |/${list}/0/path: )${why}`), `${list} ${p.slice(0, 30)}`);
    }
  }
  // The byte-length rule is code's alone: the schema lets 128 two-byte characters through.
  assert.ok(schemaOnly(change((m) => void (m.files[0]!.path = `docs/${'é'.repeat(128)}`))));
  refuses(change((m) => void (m.files[0]!.path = `docs/${'é'.repeat(128)}`)), /: files\[0\]\.path "docs\/é+" has a segment of 256 bytes/);
});

test('paths that are fine one by one but cannot coexist are refused, naming both', () => {
  refuses(change((m) => void m.files.push({ ...m.files[0]!, path: 'keys' })), /files\[1\]\.path "keys" and keys\[0\]\.path "keys\/cosign\.pub" cannot both be carried: "keys" would have to be both a file and the directory holding "keys\/cosign\.pub"/);
  refuses(change((m) => { m.files[0]!.path = 'p/q'; m.files.push({ ...m.files[0]!, path: 'p' }); }), /files\[1\]\.path "p" and files\[0\]\.path "p\/q" cannot both be carried/);
  refuses(change((m) => { m.files[0]!.path = 'a/b/c'; m.keys[0]!.path = 'a/b'; }), /keys\[0\]\.path "a\/b" and files\[0\]\.path "a\/b\/c"/);
  refuses(change((m) => void (m.keys[0]!.path = 'docs/readme.txt')), /keys\[0\]\.path docs\/readme\.txt is used twice \(also files\[0\]\.path\)/);
  // Neighbours that merely share a prefix are fine.
  accepts(change((m) => { m.files.push({ ...m.files[0]!, path: 'docs-old' }, { ...m.files[0]!, path: 'docs.txt' }); }), 'prefix siblings');
});

test('two images loaded under one name are refused (tagged, and untagged by digest)', () => {
  refuses(change((m) => void m.images.push({ ...structuredClone(m.images[0]!), source: 'other' })), /images\[0\] and images\[1\] would both be loaded as "team\/app:1"/);
  refuses(change((m) => { delete m.images[0]!.tag; m.images.push({ ...structuredClone(m.images[0]!), source: 'other' }); }), new RegExp(`images\\[0\\] and images\\[1\\] would both be loaded as "team/app@${d('a')}"`));
  // The same content under two tags, or in two repositories, is fine.
  accepts(change((m) => void m.images.push({ ...structuredClone(m.images[0]!), tag: '1.0' })), 'two tags');
  accepts(change((m) => void m.images.push({ ...structuredClone(m.images[0]!), repository: 'mirror/app' })), 'two repositories');
});

test("a referrer tagged with an image's name, or one tag with two contents, is refused", () => {
  const sigTag = `sha256-${hex(d('a'))}.sig`;
  refuses(change((m) => void m.images.push({ ...structuredClone(m.images[0]!), tag: sigTag, referrers: [] })), new RegExp(`images\\[0\\]\\.referrers\\[0\\] would be tagged "team/app:${sigTag}", which is the name of images\\[1\\]`));
  // Two images of one repository carrying the same referrer: one tag, one content. Fine.
  accepts(change((m) => void m.images.push({ ...structuredClone(m.images[0]!), tag: '2' })), 'shared referrer');
  // The same tag with another content is a conflict.
  refuses(change((m) => {
    const other = structuredClone(m.images[0]!);
    other.tag = '2';
    other.referrers![0]!.digest = d('b');
    other.referrers![0]!.mediaType = MAN;
    other.referrers![0]!.size = 500;
    other.referrers![0]!.blobs = [d('b')];
    m.images.push(other);
  }), new RegExp(`images\\[0\\]\\.referrers\\[0\\] and images\\[1\\]\\.referrers\\[0\\] would both be tagged "team/app:${sigTag}", with different content`));
});

test('cosign-tag referrers carry exactly sha256-<subject hex>.sig/.att/.sbom; oci-referrers carry no tag', () => {
  for (const suffix of ['sig', 'att', 'sbom']) accepts(change((m) => void (m.images[0]!.referrers![0]!.tag = `sha256-${hex(d('a'))}.${suffix}`)), suffix);
  for (const tag of ['latest', '1', `sha256-${hex(d('b'))}.sig`, `sha256-${hex(d('a'))}.foo`, `sha256-${hex(d('a'))}`, `sha512-${hex(d('a'))}.sig`]) {
    refuses(change((m) => void (m.images[0]!.referrers![0]!.tag = tag)), new RegExp(`images\\[0\\]\\.referrers\\[0\\] has cosign tag "${tag}"; for subject ${d('a')} it must be sha256-${hex(d('a'))}\\.sig, \\.att or \\.sbom`), tag);
  }
  refuses(change((m) => void delete m.images[0]!.referrers![0]!.tag), /\/images\/0\/referrers\/0: must have required property 'tag'/);
  refuses(change((m) => void (m.images[0]!.referrers![0]!.scheme = 'oci-referrer')), /\/images\/0\/referrers\/0: must NOT be valid/);
  accepts(change((m) => { const r = m.images[0]!.referrers![0]!; r.scheme = 'oci-referrer'; delete r.tag; }), 'oci-referrer');
});

test("a referrer's subject is the image or one of its manifests", () => {
  // The platform manifest b is a fine subject (its cosign tag follows it).
  accepts(change((m) => { const r = m.images[0]!.referrers![0]!; r.subject = d('b'); r.tag = `sha256-${hex(d('b'))}.att`; }), 'platform manifest');
  for (const subject of [d('c'), d('e'), d('1'), d('7'), d('0')]) {
    refuses(change((m) => { const r = m.images[0]!.referrers![0]!; r.subject = subject; r.tag = `sha256-${hex(subject)}.sig`; }), new RegExp(`images\\[0\\]\\.referrers\\[0\\] refers to subject ${subject}, which is neither images\\[0\\]'s digest nor one of its manifests`), subject);
  }
});

test('entries that verify but could never be loaded are refused', () => {
  // Image content that is a carried file or key.
  refuses(change((m) => void (m.images[0]!.blobs = [d('c'), d('1'), d('b'), d('a')])), new RegExp(`images\\[0\\] \\("team/app:1"\\) needs ${d('1')}, which is a blob of kind file`));
  refuses(change((m) => void (m.images[0]!.blobs = [d('c'), d('2'), d('b'), d('a')])), new RegExp(`needs ${d('2')}, which is a blob of kind key`));
  refuses(change((m) => void (m.images[0]!.referrers![0]!.blobs = [d('1'), d('f')])), new RegExp(`images\\[0\\]\\.referrers\\[0\\] needs ${d('1')}, which is a blob of kind file`));
  refuses(change((m) => void (m.images[0]!.referrers![0]!.blobs = [d('2'), d('f')])), /referrers\[0\] needs .*, which is a blob of kind key/);
  // An image root that is not an index or a manifest.
  for (const kind of ['layer', 'config', 'blob', 'file', 'key'] as const) {
    refuses(change((m) => void (m.blobs[3]!.kind = kind)), new RegExp(`images\\[0\\] \\("team/app:1"\\) (has its root ${d('a')} as a blob of kind ${kind}|needs ${d('a')}, which is a blob of kind ${kind})`), kind);
  }
  refuses(change((m) => void (m.blobs[5]!.kind = 'layer')), new RegExp(`images\\[0\\]\\.referrers\\[0\\] is ${d('f')}, a blob of kind layer`));
  refuses(change((m) => void (m.images[0]!.referrers![0]!.size = 401)), /referrers\[0\] size or mediaType differs from its blob entry/);
  // A key or file whose size is not its blob's.
  refuses(change((m) => void (m.keys[0]!.size = 179)), /keys\[0\] size differs from its blob entry \(179 and 178 bytes\)/);
  refuses(change((m) => void (m.files[0]!.size = 11)), /files\[0\] size differs from its blob entry/);
  refuses(change((m) => void (m.keys[0]!.digest = d('d'))), new RegExp(`keys\\[0\\] refers to ${d('d')}, which is not in blobs`));
  // A carried file may be any blob: one identical to an image layer is legal.
  accepts(change((m) => void (m.files[0] = { ...m.files[0]!, digest: d('e'), size: 9000 })), 'file = layer');
  accepts(change((m) => void (m.keys[0] = { ...m.keys[0]!, digest: d('1'), size: 10 })), 'key = file content');
});

test('one content, one sha512: two files with the same digest must record the same integrity', () => {
  const twin = (integrity: string) => change((m) => void m.files.push({ path: 'docs/copy.txt', digest: d('1'), size: 10, integrity }));
  accepts(twin('sha512-' + 'A'.repeat(86) + '=='), 'the same integrity');
  refuses(twin('sha512-' + 'B'.repeat(86) + '=='), /files\[1\] and files\[0\] carry the same content .* with different sha512 integrity/);
});

test('unknown fields are refused at every level', () => {
  const spots: Array<[string, (m: M) => object]> = [
    ['(root)', (m) => m as unknown as Record<string, unknown>],
    ['/tool', (m) => m.tool],
    ['/signer', (m) => m.signer!],
    ['/compression', (m) => m.compression],
    ['/volumes/0', (m) => m.volumes[0]!],
    ['/layoutIndex', (m) => m.layoutIndex],
    ['/images/0', (m) => m.images[0]!],
    ['/images/0/platformFilter', (m) => m.images[0]!.platformFilter],
    ['/images/0/platformFilter/sourceIndex', (m) => (m.images[0]!.platformFilter as { sourceIndex: Record<string, unknown> }).sourceIndex],
    ['/images/0/platforms/0', (m) => m.images[0]!.platforms[0]!],
    ['/images/0/platforms/0/platform', (m) => m.images[0]!.platforms[0]!.platform],
    ['/images/0/referrers/0', (m) => m.images[0]!.referrers![0]!],
    ['/files/0', (m) => m.files[0]!],
    ['/keys/0', (m) => m.keys[0]!],
    ['/blobs/0', (m) => m.blobs[0]!],
    ['/blobs/1/segments/0', (m) => m.blobs[1]!.segments![0]!],
  ];
  for (const [where, at] of spots) {
    refuses(change((m) => void ((at(m) as Record<string, unknown>).features = ['x'])), new RegExp(`${where.replace(/[()]/g, '\\$&')}: must NOT have additional properties "features"`), where);
  }
  // The platform keeps exactly the OCI fields.
  accepts(change((m) => void (m.images[0]!.platforms[0]!.platform = { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1879', 'os.features': ['win32k'] })), 'OCI platform fields');
});

test('segments need a digest; the seek table is not optional', () => {
  refuses(change((m) => void delete (m.blobs[1]!.segments![1] as { digest?: string }).digest), /\/blobs\/1\/segments\/1: must have required property 'digest'/);
  refuses(change((m) => void (m.blobs[1]!.segments![0]!.digest = 'sha256:xyz')), /\/blobs\/1\/segments\/0\/digest: must match pattern/);
  refuses(change((m) => void (m.compression.seekTable = false)), /\/compression\/seekTable: must be equal to constant/);
});

test('blob and segment rules are validatePlan\'s, not a copy', () => {
  // validatePlan's own wording, through validateManifest.
  refuses(change((m) => void (m.blobs[0]!.volume = 3)), new RegExp(`${d('c')} is assigned to volume 3, outside 1\\.\\.2 \\(there are 2 volumes\\)`));
  refuses(change((m) => void (m.blobs[1]!.segments![1]!.volume = 1)), new RegExp(`${d('e')} segment 2 is in volume 1; segments must sit in rising volumes within 1\\.\\.2`));
  refuses(change((m) => void (m.blobs[1]!.segments![1]!.offset = 3999)), new RegExp(`${d('e')} segment 2 starts at 3999, expected 4000`));
});

test.run();
