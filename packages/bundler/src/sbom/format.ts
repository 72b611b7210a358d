// What kind of SBOM a file holds, from its content (never its name: syft, trivy and cdxgen all
// write `sbom.json`). The media types are the ones @ferry/trust maps to a format when
// `ferry-load sbom` reads an SBOM referrer, so what is attached here is listed and written there.

export const SbomMediaTypes = {
  spdxJson: 'application/spdx+json',
  spdxTagValue: 'text/spdx',
  cyclonedxJson: 'application/vnd.cyclonedx+json',
  cyclonedxXml: 'application/vnd.cyclonedx+xml',
  syftJson: 'application/vnd.syft+json',
} as const;

export type SbomMediaType = (typeof SbomMediaTypes)[keyof typeof SbomMediaTypes];

/** For messages: what is accepted and how it is recognised. */
export const ACCEPTED_SBOM_FORMATS =
  'SPDX JSON (spdxVersion), SPDX tag-value (an SPDXVersion: line), CycloneDX JSON (bomFormat "CycloneDX"), CycloneDX XML (<bom> in the http://cyclonedx.org/schema/bom/ namespace) or syft JSON (artifacts, with descriptor.name "syft" or a syft schema URL)';

const CYCLONEDX_NS = 'http://cyclonedx.org/schema/bom/';

export type SbomDetection = { mediaType: SbomMediaType } | { reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fromJson(text: string): SbomDetection {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { reason: `it starts like JSON but is not valid JSON (${(e as Error).message})` };
  }
  if (!isObject(doc)) return { reason: 'it is JSON, but not an object' };
  if (typeof doc.spdxVersion === 'string') return { mediaType: SbomMediaTypes.spdxJson };
  if (doc.bomFormat === 'CycloneDX') return { mediaType: SbomMediaTypes.cyclonedxJson };
  if (Array.isArray(doc.artifacts)) {
    const descriptor = isObject(doc.descriptor) ? doc.descriptor : undefined;
    const schema = isObject(doc.schema) ? doc.schema : undefined;
    const bySyft = descriptor?.name === 'syft' || (typeof schema?.url === 'string' && /\/anchore\/syft\//.test(schema.url));
    if (bySyft) return { mediaType: SbomMediaTypes.syftJson };
  }
  return { reason: 'it is a JSON object, but has none of spdxVersion, bomFormat "CycloneDX" or syft\'s artifacts + descriptor' };
}

/** The root element's tag (name and attributes), after the XML declaration, comments, PIs and a DOCTYPE. */
function rootElement(text: string): { name: string; attributes: string } | undefined {
  let rest = text;
  for (;;) {
    rest = rest.trimStart();
    const skip = /^(<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>)/.exec(rest);
    if (!skip) break;
    rest = rest.slice(skip[0].length);
  }
  const m = /^<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)((?:\s[^>]*)?)\/?>/.exec(rest);
  return m ? { name: m[1]!, attributes: m[2]! } : undefined;
}

function fromXml(text: string): SbomDetection {
  const root = rootElement(text);
  if (!root) return { reason: 'it starts like XML but has no readable root element' };
  const [prefix, local] = root.name.includes(':') ? root.name.split(':') as [string, string] : ['', root.name];
  if (local !== 'bom') return { reason: `it is XML with root element <${root.name}>, not a CycloneDX <bom>` };
  // The namespace declared for the root's own prefix (xmlns= or xmlns:PREFIX=) must be CycloneDX's.
  const attr = prefix ? `xmlns:${prefix}` : 'xmlns';
  const ns = new RegExp(`(?:^|\\s)${attr.replace(/[.]/g, '\\.')}\\s*=\\s*(["'])([^"']*)\\1`).exec(root.attributes)?.[2];
  if (ns === undefined || !ns.startsWith(CYCLONEDX_NS)) {
    return { reason: `it is XML with a <bom> root, but its namespace is ${ns === undefined ? 'not declared' : JSON.stringify(ns)}, not ${CYCLONEDX_NS}…` };
  }
  return { mediaType: SbomMediaTypes.cyclonedxXml };
}

/**
 * The SBOM media type of `bytes`, or why it is not an SBOM Ferry recognises. The bytes must be
 * UTF-8 text (a UTF-8 byte-order mark is allowed); JSON and XML are told apart by their first
 * character, tag-value by an `SPDXVersion:` line.
 */
export function detectSbomFormat(bytes: Buffer): SbomDetection {
  if (bytes.length === 0) return { reason: 'the file is empty' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { reason: 'it is not UTF-8 text' };
  }
  if (text.includes('\u0000')) return { reason: 'it holds NUL bytes (a binary file, not text)' };
  text = text.replace(/^\uFEFF/, '');
  const start = text.trimStart();
  if (start.startsWith('{') || start.startsWith('[')) return fromJson(text);
  if (start.startsWith('<')) return fromXml(text);
  if (/^[ \t]*SPDXVersion:[ \t]*\S/m.test(text)) return { mediaType: SbomMediaTypes.spdxTagValue };
  return { reason: 'it is neither JSON, XML nor SPDX tag-value (no SPDXVersion: line)' };
}
