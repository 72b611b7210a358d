// ferry-load doctor: the seed's troubleshooting section (curl /v2/, openssl s_client, docker
// login, a test push, "verify the image exists", cosign verify) as one read-only command. Each
// check is PASS or FAIL with what to do; later checks that depend on a failed one are SKIP.

import { FerryError, toFerryError, type TrustedKey } from '@ferry/format-spec';
import { RegistrySink, type RegistryOptions } from '@ferry/oci';
import type { ImageKey } from '@ferry/trust';
import { checkTrusted } from './check.js';
import { openTrusted } from './bundle.js';
import { mapNames } from './push/names.js';
import { parseRegistryTarget, resolveTargets } from './push/target.js';
import type { RewriteRule } from './rewrite.js';
import { checkImageSignatures } from './trust/image-signatures.js';

export interface DoctorCheck {
  check: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
  /** What to do about a failure. */
  fix?: string;
}

export interface DoctorOptions {
  to: string;
  /** The bundle, for the checks of what it promises (tags, signatures, referrers). */
  path?: string;
  trustedKeys: readonly TrustedKey[];
  allowUnsigned?: boolean;
  registry: RegistryOptions;
  rewrites?: RewriteRule[];
  imageKeys?: readonly ImageKey[];
}

export async function runDoctor(o: DoctorOptions): Promise<{ target: string; checks: DoctorCheck[]; ok: boolean }> {
  const t = parseRegistryTarget(o.to);
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck): void => void checks.push(c);
  const skipRest = (names: string[], why: string): void => names.forEach((check) => add({ check, status: 'skip', detail: why }));
  // The bundle is opened (its signature checked) once, for every question asked of it.
  const tm = o.path ? await openTrusted(o.path, { trustedKeys: o.trustedKeys, ...(o.allowUnsigned ? { allowUnsigned: true } : {}) }) : undefined;
  const sink = new RegistrySink(t.registry, o.registry);
  try {
    // 1-3. GET /v2/ tells reachable, TLS and credentials apart by how it fails.
    try {
      await sink.ping();
      add({ check: 'registry reachable', status: 'pass', detail: `GET https?://${t.registry}/v2/ answered` });
      add({ check: 'TLS trusted', status: 'pass', detail: 'the certificate chain verified (or the host is named insecure)' });
      add({ check: 'credentials accepted', status: 'pass', detail: 'the registry accepted this client (anonymous or the credentials found)' });
    } catch (e) {
      const fe = toFerryError(e);
      if (fe.code === 'REGISTRY_TLS') {
        add({ check: 'registry reachable', status: 'pass', detail: `${t.registry} answers` });
        add({ check: 'TLS trusted', status: 'fail', detail: fe.message, fix: '--ca-file CA.pem with the CA that signed the registry certificate (openssl s_client -showcerts shows the chain), or --insecure-registry HOST to skip verification for that host only' });
        skipRest(['credentials accepted', 'push allowed'], 'TLS failed');
      } else if (fe.code === 'REGISTRY_AUTH') {
        add({ check: 'registry reachable', status: 'pass', detail: `${t.registry} answers` });
        add({ check: 'TLS trusted', status: 'pass', detail: 'the certificate chain verified (or the host is named insecure)' });
        add({ check: 'credentials accepted', status: 'fail', detail: fe.message, fix: '--creds USER:PASSWORD, --authfile FILE, or docker login HOST for the account that loads' });
        skipRest(['push allowed'], 'the credentials were refused');
      } else {
        add({ check: 'registry reachable', status: 'fail', detail: fe.message, fix: `check the address and port (${t.registry}), that the registry runs, and the network path (curl -v https://${t.registry}/v2/)` });
        skipRest(['TLS trusted', 'credentials accepted', 'push allowed'], 'the registry is not reachable');
      }
    }
    // 4. Push allowed, in the first namespace the bundle loads into (or under the prefix).
    if (!checks.some((c) => c.status !== 'pass')) {
      let repo = `${t.prefix ? `${t.prefix}/` : ''}ferry-doctor`;
      if (tm) {
        const targets = await resolveTargets(o.to, undefined, tm.loc.dir);
        repo = mapNames(targets, tm.manifest.images, o.rewrites ?? []).repos[0] ?? repo;
      }
      try {
        await sink.preflight(repo);
        add({ check: 'push allowed', status: 'pass', detail: `an upload to ${repo} could start (opened and cancelled)` });
      } catch (e) {
        const fe = toFerryError(e);
        add({ check: 'push allowed', status: 'fail', detail: fe.message, fix: 'ask the registry administrator for push permission on that project or namespace, or whether the registry is read-only; or use another account' });
      }
    }
  } finally {
    await sink.close();
  }
  // 5-7. What the bundle promises, as `ferry-load check` sees it.
  if (tm) {
    const reachable = checks.find((c) => c.check === 'credentials accepted')?.status === 'pass';
    if (!reachable) skipRest(['bundled tags present', 'signatures in place', 'referrers reachable'], 'the registry cannot be read');
    else {
      const report = await checkTrusted(tm, { to: o.to, rewrites: o.rewrites ?? [], registry: o.registry });
      const of = (kind: string) => report.items.filter((i) => i.kind === kind);
      const verdict = (check: string, items: typeof report.items, none: string, fix: string): void => {
        const bad = items.filter((i) => i.status !== 'ok');
        if (!items.length) add({ check, status: 'pass', detail: none });
        else if (!bad.length) add({ check, status: 'pass', detail: `${items.length} of ${items.length} as the bundle has them` });
        else add({ check, status: 'fail', detail: `${bad.length} of ${items.length} not as the bundle has them: ${bad.slice(0, 3).map((b) => `${b.ref} ${b.status}`).join(', ')}${bad.length > 3 ? ', …' : ''}`, fix });
      };
      verdict('bundled tags present', of('image'), 'the bundle has no image', 'run ferry-load push with the same bundle (it loads only what is missing); find out who changed the registry');
      verdict('signatures in place', of('cosign-tag'), 'the bundle carries no cosign tag artifacts', 'run ferry-load push again: it tags .sig/.att beside the image');
      verdict('referrers reachable', of('referrer'), 'the bundle carries no OCI referrers', 'run ferry-load push again; on registries without the referrers API Ferry writes the sha256-<hex> fallback index tag');
      if (o.imageKeys?.length) {
        const sigs = await checkImageSignatures(tm, o.imageKeys);
        const bad = sigs.map((s, i) => ({ s, ref: tm.manifest.images[i]!.repository })).filter((x) => x.s.status !== 'signed');
        if (!bad.length) add({ check: 'signatures verify', status: 'pass', detail: `every image's signature verifies with a trusted image key (${sigs.length})` });
        else add({ check: 'signatures verify', status: 'fail', detail: `${bad.length} image(s) not signed by a trusted key: ${bad.slice(0, 3).map((b) => `${b.ref} ${b.s.status}`).join(', ')}`, fix: 'sign them with cosign on the connected side, or give the right --image-key' });
      }
    }
  }
  return { target: o.to, checks, ok: checks.every((c) => c.status === 'pass') };
}

/** The error doctor exits with: the first failure. */
export function doctorOutcome(r: { checks: DoctorCheck[] }): FerryError | undefined {
  const f = r.checks.find((c) => c.status === 'fail');
  return f ? new FerryError('CHECK_FAILED', `${f.check}: ${f.detail}`) : undefined;
}

