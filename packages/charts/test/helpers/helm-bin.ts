// The real helm, when one is already built on this machine (the repository's .tools/bin, or
// /tmp/gotry/bin): unit tests use it as an extra check and skip it otherwise; the harness
// (test/harness/helm.ts) is the place that builds one.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function helmBinary(): string | undefined {
  const candidates = [
    process.env.FERRY_TOOLS_DIR ? `${process.env.FERRY_TOOLS_DIR}/bin/helm` : '',
    fileURLToPath(new URL('../../../../.tools/bin/helm', import.meta.url)),
    '/tmp/gotry/bin/helm',
  ];
  return candidates.find((p) => p !== '' && existsSync(p));
}
