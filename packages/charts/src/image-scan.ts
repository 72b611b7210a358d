// Image references a chart names in plain text, so the bundler can offer to carry them too.
// This reads; it does not render: Helm templates can build any reference from any values, so
// what is found is a good guess, never a promise.
//
// values.yaml (the chart's and each vendored subchart's), walked as YAML with line numbers:
//   - `image: "repo/name:tag"`  (a key named image, or ending in Image, with a string value);
//   - `image: {registry?, repository, tag?, digest?}`  (the same keys holding a map);
//   - any map with sibling `repository:` and `tag:` (and maybe `registry:`, `digest:`).
// Templates: lines `image: x/y:1.2` or `- image: "x/y:1.2"` with no `{{` on them.
//
// Values are taken as written (`tag: 7.10` is "7.10", where Helm's float would print 7.1).
// Whatever parseReference refuses is dropped; an empty registry is no registry. A reference
// without a tag, or with the tag `latest`, is kept as written and marked `unpinned`. Each
// image is reported once (by its normalised reference), at the first file and line it is seen.

import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { parseReference } from '@ferry/oci';
import type { CheckedChart, FoundImage } from './types.js';

const IMAGE_KEY = /^(?:image|.*Image)$/;
const TEMPLATE_IMAGE_LINE = /^\s*(?:-\s+)?image:\s*(?:"([^"]*)"|'([^']*)'|([^\s#"']+))\s*(?:#.*)?$/;

interface Candidate {
  text: string;
  tagless: boolean;
  latest: boolean;
  line: number;
}

/** Is the reference as written without a tag (and digest), or tagged `latest`? */
function pinning(s: string): { tagless: boolean; latest: boolean } {
  if (s.includes('@')) return { tagless: false, latest: false };
  const last = s.slice(s.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  const tag = colon >= 0 ? last.slice(colon + 1) : undefined;
  return { tagless: tag === undefined, latest: tag === 'latest' };
}

function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  if (typeof v !== 'string') return undefined;
  if (node.type === 'PLAIN' && (v === '' || v === '~' || v === 'null' || v === 'Null' || v === 'NULL')) return undefined;
  return v;
}

function compose(m: YAMLMap, line: (n: YamlNode) => number): Candidate | undefined {
  const get = (k: string): string | undefined => {
    for (const p of m.items) if (isScalar(p.key) && p.key.value === k) return scalarText(p.value);
    return undefined;
  };
  const repoNode = m.items.find((p) => isScalar(p.key) && p.key.value === 'repository');
  const repository = get('repository');
  if (!repository || !repoNode) return undefined;
  const registry = get('registry');
  const tag = get('tag');
  const digest = get('digest');
  const text = `${registry ? `${registry}/` : ''}${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  return { text, tagless: !tag && !digest, latest: tag === 'latest' && !digest, line: line(repoNode.key as YamlNode) };
}

function fromValues(text: string): Candidate[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false, lineCounter: lc, strict: false });
  if (doc.errors.length) return [];
  const line = (n: YamlNode): number => (n.range ? lc.linePos(n.range[0]).line : 0);
  const out: Candidate[] = [];
  const walk = (node: unknown, key?: string): void => {
    if (isMap(node)) {
      const keys = new Set(node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')));
      if ((key !== undefined && IMAGE_KEY.test(key)) || (keys.has('repository') && keys.has('tag'))) {
        const c = compose(node, line);
        if (c) out.push(c);
      }
      for (const p of node.items) {
        const k = isScalar(p.key) ? String(p.key.value) : undefined;
        if (k !== undefined && IMAGE_KEY.test(k)) {
          const s = scalarText(p.value);
          if (s !== undefined) {
            out.push({ text: s, ...pinning(s), line: line(p.value as YamlNode) });
            continue;
          }
        }
        walk(p.value, k);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item);
    }
  };
  walk(doc.contents);
  return out;
}

function fromTemplate(text: string): Candidate[] {
  const out: Candidate[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    if (l.includes('{{')) return;
    const m = TEMPLATE_IMAGE_LINE.exec(l);
    if (!m) return;
    const s = m[1] ?? m[2] ?? m[3]!;
    out.push({ text: s, ...pinning(s), line: i + 1 });
  });
  return out;
}

/** Image references named in `chart`'s values.yaml files and templates (see the file header). */
export function findChartImages(chart: CheckedChart): FoundImage[] {
  const found: FoundImage[] = [];
  const seen = new Set<string>();
  for (const [file, text] of chart.textFiles) {
    const base = file.slice(file.lastIndexOf('/') + 1);
    const isValues = base === 'values.yaml' && !/(^|\/)templates\//.test(file);
    const isTemplate = /(^|\/)templates\//.test(file);
    const candidates = isValues ? fromValues(text) : isTemplate ? fromTemplate(text) : [];
    for (const c of candidates) {
      if (c.text.includes('{{')) continue;
      let key: string;
      try {
        key = parseReference(c.text).toString();
      } catch {
        continue;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ reference: c.text, file, line: c.line, ...(c.tagless ? { unpinned: 'missing' as const } : c.latest ? { unpinned: 'latest' as const } : {}) });
    }
  }
  return found;
}
