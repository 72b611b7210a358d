// The image-signing public keys the high side trusts (`--image-key [NAME=]FILE`, repeatable),
// read once for the cosign-keys ConfigMap and the admission policies. They are the operator's
// own files: a key carried inside the bundle is cargo and is used only when the operator passes
// its path. Each file must hold PEM public keys and nothing else, so a private key or a
// certificate never ends up in a ConfigMap or a policy by mistake.

import { basename } from 'node:path';
import { FerryError, MAX_KEY_FILE_BYTES, describePublicKey, keyFingerprint, parsePublicKeyBlocks, printable, readRegularFile } from '@ferry/format-spec';

export interface ImageKey {
  /** The ConfigMap key: the file's base name, as `kubectl create configmap --from-file` names it. */
  name: string;
  path: string;
  /** The file's text exactly (the ConfigMap value). */
  text: string;
  /** Each public key in it, as canonical SPKI PEM (what the policies embed). */
  pems: string[];
  /** `sha256:<hex>` of each key's DER SubjectPublicKeyInfo, and its algorithm. */
  keys: Array<{ fingerprint: string; algorithm: string }>;
}

/** kubectl's rule for a ConfigMap key (IsConfigMapKey): letters, digits, `-`, `_`, `.`; not `.`, `..` or `..`-led. */
export function isConfigMapKey(k: string): boolean {
  return k.length > 0 && k.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(k) && k !== '.' && k !== '..' && !k.startsWith('..');
}

/** `NAME=FILE` (kubectl's `--from-file=key=source`) or `FILE` (the key is its base name). */
export function parseKeySpec(spec: string): { name: string; path: string } {
  const eq = spec.indexOf('=');
  const named = eq > 0 && isConfigMapKey(spec.slice(0, eq));
  const path = named ? spec.slice(eq + 1) : spec;
  const name = named ? spec.slice(0, eq) : basename(path);
  if (!path) throw new FerryError('USAGE', `--image-key ${printable(spec)}: expected FILE or NAME=FILE`);
  if (!isConfigMapKey(name)) {
    throw new FerryError('USAGE', `--image-key ${printable(spec)}: "${printable(name)}" is not a valid ConfigMap key (letters, digits, - _ .); give one as NAME=FILE`);
  }
  return { name, path };
}

export async function readImageKeys(specs: readonly string[]): Promise<ImageKey[]> {
  const out: ImageKey[] = [];
  for (const spec of specs) {
    const { name, path } = parseKeySpec(spec);
    if (out.some((k) => k.name === name)) {
      throw new FerryError('USAGE', `--image-key ${printable(spec)}: another key is already named "${printable(name)}" in the ConfigMap (kubectl refuses the same); name one NAME=FILE`);
    }
    const bytes = await readRegularFile(path, 'image key', MAX_KEY_FILE_BYTES);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new FerryError('KEY_INVALID', `${printable(path)}: not UTF-8 text; an image key is a PEM public key (cosign.pub)`, { file: path });
    }
    const keys = parsePublicKeyBlocks(text, path);
    out.push({
      name,
      path,
      text,
      pems: keys.map((k) => k.export({ type: 'spki', format: 'pem' }).toString()),
      keys: keys.map((k) => ({ fingerprint: keyFingerprint(k), algorithm: describePublicKey(k) })),
    });
  }
  return out;
}
