// Repositories of one registry that runs from this state directory began to write to while the
// registry still said they did not exist. distribution answers a tag list with 404
// NAME_UNKNOWN for a repository that holds blobs or untagged manifests but no tag yet — exactly
// what an interrupted first load leaves — so "no such repository" alone must not mean "holds
// nothing": a repository listed here is asked about blob by blob as before. Recorded under the
// run's lock before the first byte is sent, one name per line, appended.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { readRegularFile } from '@ferry/format-spec';
import { checkRegularFile, targetFsError } from '@ferry/oci';

const MAX_BYTES = 16 << 20;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export class WrittenRepositories {
  private names?: Promise<Set<string>>;

  constructor(private readonly file: string) {}

  private load(): Promise<Set<string>> {
    this.names ??= (async () => {
      const what = 'the list of repositories Ferry wrote to';
      if ((await checkRegularFile(this.file, what)) === undefined) return new Set<string>();
      return new Set((await readRegularFile(this.file, what, MAX_BYTES)).toString('utf8').split('\n').filter(Boolean));
    })();
    return this.names;
  }

  /** Did a run from this state directory begin writing to `repository`? */
  async has(repository: string): Promise<boolean> {
    return (await this.load()).has(repository);
  }

  /** Note `repositories` (those not noted yet) before anything is written to them. */
  async record(repositories: Iterable<string>): Promise<void> {
    const names = await this.load();
    const fresh = [...new Set(repositories)].filter((r) => !names.has(r));
    if (!fresh.length) return;
    for (const r of fresh) names.add(r);
    try {
      const fh = await open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(fresh.map((r) => `${r}\n`).join(''));
      } finally {
        await fh.close();
      }
    } catch (e) {
      for (const r of fresh) names.delete(r);
      throw targetFsError(e, this.file, 'cannot note the repositories this load writes to (state directory)');
    }
  }
}
