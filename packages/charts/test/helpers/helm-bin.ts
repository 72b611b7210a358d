// The real helm for unit tests, from the same pinned build the harness uses
// (scripts/test-tools.sh, built on first use): never skipped when missing, built instead.
import { goTool } from '../../../../test/harness/tools.js';

export function helmBinary(): Promise<string> {
  return goTool('helm');
}
