// Placeholder: inventory baselines (ferry-load inventory) are read by the inventory branch's
// reader, which replaces this file with the same signature.

import { FerryError, printable } from '@ferry/format-spec';
import type { BaselineReadOptions } from './read.js';
import type { Baseline } from './types.js';

export async function readInventoryBaseline(_bytes: Buffer, path: string, _opts: BaselineReadOptions): Promise<Baseline> {
  throw new FerryError('BASELINE_INVALID', `--baseline ${printable(path)}: inventory baselines are not supported by this build`, { file: path });
}
