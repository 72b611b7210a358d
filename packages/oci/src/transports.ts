// Image source strings in skopeo's transport syntax (containers-transports(5)), plus Ferry's
// shorthand that a bare reference means `docker://`. As in containers/image on Linux, the
// path ends at the first colon: everything after it is the REF (which may hold colons
// itself, e.g. `oci:dir:example.com:5000/app:1.0`); paths with colons cannot be named.

import { FerryError, printable } from '@ferry/format-spec';
import { credentialsRefused, parseReference, showReference } from './reference.js';
import { hasCredentials, redactCredentials } from './redact-credentials.js';
import type { ImageSource } from './source.js';
import { openOciLayout, type LayoutReaders } from './layout-source.js';
import { openOciArchive } from './oci-archive.js';
import { openDockerArchive } from './docker-archive.js';

export type ImageTransport = 'docker' | 'oci' | 'oci-archive' | 'docker-archive';

export interface ParsedImageSource {
  transport: ImageTransport;
  /** Directory or archive file (local transports). */
  path?: string;
  /** What follows the path: ref.name / `name:tag` / `@N` (local transports). */
  ref?: string;
  /** Registry reference as written, without `docker://` (docker transport). */
  reference?: string;
}

const LOCAL: readonly ImageTransport[] = ['oci', 'oci-archive', 'docker-archive'];
// Other containers/image transports: named so a user gets "not supported", not a registry lookup.
const UNSUPPORTED = ['dir', 'docker-daemon', 'containers-storage', 'ostree', 'sif', 'tarball'];

// image-spec annotations.md grammar for org.opencontainers.image.ref.name (skopeo validates REF with it).
const OCI_REF_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

function bad(s: string, why: string): FerryError {
  const shown = showReference(s);
  return new FerryError('SOURCE_INVALID', `image source "${shown}": ${printable(redactCredentials(why))}`, { source: shown });
}

/** Parse `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, `docker://REF` or a bare reference. */
export function parseImageSource(s: string): ParsedImageSource {
  if (s.trim() === '') throw bad(s, 'empty');
  // Before any transport rule, so no message below can echo them (local paths may hold '@').
  if (hasCredentials(s)) throw credentialsRefused(s);
  if (s.startsWith('docker://') || s.startsWith('registry://')) {
    const reference = s.slice(s.indexOf('://') + 3);
    parseReference(reference); // validates; throws SOURCE_INVALID naming the problem
    return { transport: 'docker', reference };
  }
  const colon = s.indexOf(':');
  const prefix = colon > 0 ? s.slice(0, colon) : '';
  if ((LOCAL as readonly string[]).includes(prefix)) {
    const transport = prefix as ImageTransport;
    const rest = s.slice(colon + 1);
    const sep = rest.indexOf(':');
    const path = sep >= 0 ? rest.slice(0, sep) : rest;
    const ref = sep >= 0 ? rest.slice(sep + 1) : '';
    if (path === '') throw bad(s, `no path: expected ${transport}:PATH[:REF]`);
    if (ref !== '') {
      if (transport === 'docker-archive') {
        if (!/^@\d+$/.test(ref)) {
          if (ref.startsWith('@')) throw bad(s, `"${ref}" is not a source index: use @N with N a number from 0`);
          const r = parseReference(ref);
          if (r.digest !== undefined) throw bad(s, 'a docker-archive REF must be name:tag or @N, not a digest');
        }
      } else if (!/^@\d+$/.test(ref) && !OCI_REF_RE.test(ref)) {
        throw bad(s, `"${ref}" is not a valid layout reference name (letters and digits with - . _ : @ + separators and / between components), nor @N`);
      }
    }
    return { transport, path, ...(ref !== '' ? { ref } : {}) };
  }
  if (prefix === 'docker') throw bad(s, 'the docker transport is written docker://REF');
  // `dir:5000/x` would be a registry on port 5000, so only `name:` followed by something that is not a port+path is a transport.
  if (UNSUPPORTED.includes(prefix) && !/^\d+\//.test(s.slice(colon + 1))) {
    throw bad(s, `the ${prefix}: transport is not supported; use docker://, oci:, oci-archive: or docker-archive: (write docker://${s} if you meant an image named ${prefix})`);
  }
  parseReference(s);
  return { transport: 'docker', reference: s };
}

/** Open a local image source string. oci/oci-archive give one image; docker-archive may give
 *  several. `readers` shares parsed layout directories between calls. */
export async function openLocalImageSources(s: string, readers?: LayoutReaders): Promise<ImageSource[]> {
  const p = parseImageSource(s);
  switch (p.transport) {
    case 'oci':
      return [await openOciLayout(p.path!, p.ref, readers)];
    case 'oci-archive':
      return [await openOciArchive(p.path!, p.ref)];
    case 'docker-archive':
      return openDockerArchive(p.path!, p.ref);
    case 'docker':
      throw new FerryError('SOURCE_INVALID', `${showReference(s)}: registry sources are not available in this build`, { source: showReference(s) });
  }
}
