// A delta bundle (format v4) does not carry the blobs its baselines say the target holds. Before
// the operator is asked and before a byte is written, every required blob is looked for where
// the images need it: a registry is asked (HEAD, bounded concurrency) in each target repository;
// one absent there but present in a repository the baseline names is mounted from there once the
// run holds the target; an OCI layout must hold it as a regular file of the right size. Anything
// else stops the push with BASELINE_MISSING naming what is missing, for which image, and which
// earlier bundle carried it.

import { FerryError, blobDescriptor, mapLimit, printable, requiredOf, type RequiredBlob } from '@ferry/format-spec';
import { mapRepository } from './names.js';
import type { PushState } from './plan.js';
import type { RewriteRule } from '../rewrite.js';

export interface PlannedMount {
  digest: string;
  repository: string;
  from: string;
}

export interface RequiredStatus {
  blobs: number;
  bytes: number;
  /** Target places (repository, digest) found holding a required blob. */
  present: number;
  mounts: PlannedMount[];
}

type Ctx = Pick<PushState, 'manifest' | 'targets' | 'target' | 'wanted' | 'present' | 'repos' | 'refs' | 'concurrency'>;

const MAX_NAMED = 5;

/** Finds every required blob in the target (or a mount for it); throws BASELINE_MISSING otherwise. */
export async function checkRequired(s: Ctx, rewrites: readonly RewriteRule[], key: (repo: string, digest: string) => string): Promise<RequiredStatus> {
  const required = requiredOf(s.manifest);
  const status: RequiredStatus = { blobs: required.length, bytes: required.reduce((n, r) => n + r.size, 0), present: 0, mounts: [] };
  if (!required.length) return status;
  // The first image (in manifest order) that needs each blob in each repository, for messages.
  const neededBy = new Map<string, number>();
  s.manifest.images.forEach((img, i) => {
    for (const d of img.blobs) if (!neededBy.has(`${s.repos[i]}\0${d}`)) neededBy.set(`${s.repos[i]}\0${d}`, i);
  });
  const places = required.flatMap((r) => (s.wanted.get(r.digest) ?? []).filter((repo) => !s.present.has(key(repo, r.digest))).map((repo) => ({ r, repo })));
  const absent: Array<{ r: RequiredBlob; repo: string; why: string }> = [];
  await mapLimit(places, s.concurrency, async ({ r, repo }) => {
    const state = await presence(s, repo, r);
    if (state === 'present') {
      s.present.add(key(repo, r.digest));
      status.present++;
    } else absent.push({ r, repo, why: state });
  });
  // Registry: a repository the baseline says holds it may lend it (a cross-repository mount).
  const asked = new Map<string, Promise<string>>();
  const ask = (repo: string, r: RequiredBlob): Promise<string> => {
    const k = key(repo, r.digest);
    let p = asked.get(k);
    if (!p) asked.set(k, (p = presence(s, repo, r)));
    return p;
  };
  const missing: typeof absent = [];
  await mapLimit(absent, s.concurrency, async (a) => {
    if (s.targets.kind === 'registry') {
      const source = s.manifest.images[neededBy.get(`${a.repo}\0${a.r.digest}`) ?? 0]?.source ?? '';
      const homes = [...new Set(a.r.repositories.map((x) => mapRepository(s.targets, x, rewrites, source)))].filter((x) => x !== a.repo);
      for (const from of homes) {
        if ((await ask(from, a.r)) === 'present') {
          status.mounts.push({ digest: a.r.digest, repository: a.repo, from });
          return;
        }
      }
    }
    missing.push(a);
  });
  if (missing.length) throw missingError(s, missing, neededBy);
  status.mounts.sort((a, b) => a.repository.localeCompare(b.repository) || a.digest.localeCompare(b.digest));
  return status;
}

function presence(s: Ctx, repo: string, r: RequiredBlob): Promise<string> {
  return s.target.requiredPresence(repo, blobDescriptor(r));
}

function missingError(s: Ctx, missing: Array<{ r: RequiredBlob; repo: string; why: string }>, neededBy: Map<string, number>): FerryError {
  missing.sort((a, b) => a.repo.localeCompare(b.repo) || a.r.digest.localeCompare(b.r.digest));
  const named = missing.slice(0, MAX_NAMED).map((m) => {
    const i = neededBy.get(`${m.repo}\0${m.r.digest}`);
    const image = i !== undefined ? s.refs[i]! : m.repo;
    const why = m.why === 'absent' ? '' : ` (${m.why})`;
    return `${m.r.digest}${why} for ${printable(image)}, carried by ${printable(m.r.baseline)}`;
  });
  const bundles = [...new Set(missing.map((m) => m.r.baseline))].map(printable).join(', ');
  const more = missing.length > MAX_NAMED ? `; and ${missing.length - MAX_NAMED} more` : '';
  const digests = new Set(missing.map((m) => m.r.digest)).size;
  const places = digests === missing.length ? '' : ` (${missing.length} repository places)`;
  return new FerryError(
    'BASELINE_MISSING',
    `${printable(s.manifest.name)} is a delta: ${digests} blob(s) it requires are not in ${printable(s.targets.description)}${places}: ${named.join('; ')}${more}. Nothing was written; load ${bundles} into this target first`,
    { missing: digests, baselines: bundles },
  );
}

/** After the lock, before any blob is sent: the planned mounts; a refused one is a missing blob. */
export async function mountRequired(s: PushState, mounts: readonly PlannedMount[], key: (repo: string, digest: string) => string): Promise<void> {
  const refused: PlannedMount[] = [];
  const required = new Map(requiredOf(s.manifest).map((r) => [r.digest, r]));
  await mapLimit([...mounts], s.concurrency, async (m) => {
    const r = required.get(m.digest)!;
    if (await s.target.sink.mountBlob(m.repository, blobDescriptor(r), m.from)) s.present.add(key(m.repository, m.digest));
    else refused.push(m);
  });
  if (refused.length) {
    const named = refused.slice(0, MAX_NAMED).map((m) => `${m.digest} into ${printable(m.repository)} from ${printable(m.from)} (carried by ${printable(required.get(m.digest)!.baseline)})`);
    throw new FerryError(
      'BASELINE_MISSING',
      `${printable(s.manifest.name)} is a delta: the registry refused to mount ${refused.length} required blob(s): ${named.join('; ')}${refused.length > MAX_NAMED ? `; and ${refused.length - MAX_NAMED} more` : ''}. No blob or tag was written; load the earlier bundle into those repositories first`,
      { missing: refused.length },
    );
  }
}
