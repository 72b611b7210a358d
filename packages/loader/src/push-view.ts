// What the operator reads during `ferry-load push`: the plan before the question, a line per
// event, per-image state under the progress bar, and the closing report with the next command.
// Every string from the bundle is printed escaped.

import { signatureText } from './trust/signature-text.js';
import { chartInPlace } from './charts/deliver.js';
import { printable } from '@ferry/format-spec';
import { formatBytes } from '@ferry/cli-kit';
import type { PushEvent, PushPlan, PushReport } from './push/index.js';
import type { TrustedManifest } from './bundle.js';

const short = (d: string): string => `${d.slice(0, 19)}…`;

/** The plan, as the lines the operator reads before saying yes (also logged with --yes). */
export function planLines(tm: TrustedManifest, plan: PushPlan): string[] {
  const m = tm.manifest;
  const who = tm.verifiedBy ? `signature TRUSTED: signed by key ${tm.verifiedBy.fingerprint}, which is the trusted key file ${printable(tm.verifiedBy.path)}` : 'UNSIGNED (allowed by --allow-unsigned)';
  const vol = (ns: number[]) => ns.map((n) => String(n).padStart(3, '0')).join(', ');
  const lines = [
    `Bundle ${printable(m.name)}, created ${printable(m.created)}, ${who}`,
    plan.targetKind === 'charts'
      ? `  ${(m.charts ?? []).length} chart(s) -> ${printable(plan.target)}`
      : `  ${m.images.length} image(s), ${(m.charts ?? []).length} chart(s), ${m.files.length} file(s), ${m.keys.length} key(s) -> ${printable(plan.target)} (${plan.filesDir !== undefined ? `files to ${printable(plan.filesDir)}` : 'files not written: no --files-dir'})`,
    `  volumes here: ${plan.volumesPresent.length}/${m.volumes.length}${plan.volumesMissing.length ? ` (missing ${vol(plan.volumesMissing)}: load them in a later run)` : ''}; to read now: ${plan.volumesToRead.length ? vol(plan.volumesToRead) : 'none (everything here is loaded already)'}`,
  ];
  const sizes = new Map(m.blobs.map((b) => [b.digest, b.size]));
  lines.push('  images (source -> name in the target):');
  m.images.slice(0, 50).forEach((img, i) => {
    const n = plan.mapping[i]!;
    const bytes = n.blobs ? [...new Set(img.blobs)].reduce((t, d) => t + (sizes.get(d) ?? 0), 0) : 0;
    const plats = img.platforms.length ? img.platforms.map((x) => `${x.platform.os}/${x.platform.architecture}${x.platform.variant ? `/${x.platform.variant}` : ''}`).join(',') : 'single platform';
    const refs = img.referrers ?? [];
    const kinds = [
      ...['sig', 'att', 'sbom'].map((k) => [k, refs.filter((r) => r.tag?.endsWith(`.${k}`)).length] as const).filter(([, c]) => c).map(([k, c]) => `${c} .${k}`),
      ...(refs.some((r) => r.scheme === 'oci-referrer') ? [`${refs.filter((r) => r.scheme === 'oci-referrer').length} referrer(s)`] : []),
    ];
    const there = n.present === n.blobs && n.blobs > 0 ? ', already there' : n.present ? `, ${n.present}/${n.blobs} blobs there` : '';
    const sig = plan.signatures?.[i];
    lines.push(`    ${printable(n.source)} -> ${printable(n.target)}  [${plats}; ${formatBytes(bytes)}${kinds.length ? `; ${kinds.join(', ')}` : '; no signatures'}${there}]`);
    if (sig) lines.push(`      ${signatureText(sig)}`);
  });
  if (m.images.length > 50) lines.push(`    … and ${m.images.length - 50} more (--json lists all)`);
  for (const f of [...m.files, ...m.keys].slice(0, 20)) lines.push(`  file ${printable(f.path)} (${formatBytes(f.size)})`);
  if (plan.blobsAlreadyThere || plan.blobsDamaged) {
    lines.push(`  already in the target: ${plan.blobsAlreadyThere} blob(s), re-verified${plan.blobsDamaged ? `; ${plan.blobsDamaged} damaged blob(s) there will be replaced` : ''}`);
  }
  if (plan.charts.length) {
    lines.push('  charts (destination: what happens):');
    for (const c of plan.charts.slice(0, 50)) {
      const what = c.action === 'upload' ? 'upload' : c.action === 'skip' ? 'already there, same bytes' : c.action === 'replace' ? `REPLACE (--force): ${printable(c.detail ?? '')}` : `REFUSED: ${printable(c.detail ?? '')}`;
      lines.push(`    ${printable(c.chart)} -> ${printable(c.location)}  [${what}]`);
    }
    if (plan.charts.length > 50) lines.push(`    … and ${plan.charts.length - 50} more (--json lists all)`);
  } else {
    for (const c of (tm.manifest.charts ?? []).slice(0, 20)) lines.push(`  chart ${printable(`${c.name}@${c.version}`)} (${formatBytes(c.size)}${c.provenance ? ', with .prov' : ''}): not loaded without --charts`);
  }
  for (const n of plan.notes) lines.push(`  note: ${printable(n)}`);
  if (plan.retags.length) {
    lines.push(`  tags that will MOVE to other content (--no-retag refuses this):`);
    for (const t of plan.retags) lines.push(`    ${printable(t.ref)}  ${short(t.from)} -> ${short(t.to)}`);
  }
  if (plan.fileConflicts.length) {
    const keep = plan.fileConflicts.every((c) => c.action === 'keep');
    lines.push(keep ? '  local files that differ from the bundle are KEPT (pass --overwrite-files to replace them):' : '  local files that differ from the bundle will be REPLACED (--overwrite-files):');
    for (const c of plan.fileConflicts) lines.push(`    ${printable(c.path)}`);
  }
  return lines;
}

export function describe(e: PushEvent): string | undefined {
  switch (e.type) {
    case 'checking': return `Checking ${printable(e.what)}`;
    case 'chart': return `Chart ${printable(e.chart)} -> ${printable(e.destination)}: ${e.status}${e.reason ? ` (${printable(e.reason)})` : ''}`;
    case 'volume-start': return `Reading ${printable(e.file)}`;
    case 'volume-done': return `Done with ${printable(e.file)}: ${e.written} written, ${e.skipped} already there`;
    case 'volume-skip': return `Skipping ${printable(e.file)}: ${e.reason}`;
    case 'volume-failed': return `❌ ${printable(e.file)}: ${printable(e.message)}`;
    case 'image': return `✅ ${printable(e.ref)} ${e.digest}${e.retagged ? ` (tag moved from ${short(e.retagged)})` : ''}`;
    case 'image-refused': return `⛔ ${printable(e.ref)}: ${printable(e.message)}`;
    case 'file': return `✅ file ${printable(e.path)}`;
    case 'file-kept': return `⚠️  kept local ${printable(e.path)} (differs from the bundle; --overwrite-files replaces it)`;
    default: return undefined;
  }
}

export function summary(r: PushReport, next?: string): string {
  const loaded = r.images.filter((i) => i.status === 'loaded').length;
  const filesDone = r.files.filter((f) => f.status === 'written' || f.status === 'unchanged').length;
  const charted = r.charts.filter((c) => chartInPlace(c.status)).length;
  const out = [
    r.targetKind === 'charts'
      ? `Loaded ${charted}/${r.charts.length} chart(s) into ${printable(r.target)} in ${r.seconds.toFixed(1)} s`
      : `Loaded ${loaded}/${r.images.length} image(s) into ${printable(r.target)}${r.filesDir !== undefined ? `, ${filesDone}/${r.files.length} file(s) into ${printable(r.filesDir)}` : r.files.length ? `, ${r.files.length} file(s) not written (no --files-dir)` : ''}; ${r.blobsWritten} blobs (${formatBytes(r.bytesWritten)}) written${r.blobsMounted ? `, ${r.blobsMounted} mounted from another repository` : ''} in ${r.seconds.toFixed(1)} s`,
    ...r.images.map((i) => {
      const mark = i.status === 'loaded' ? '✅' : i.status === 'pending' ? '⏳' : '⛔';
      const note = i.status === 'refused' ? `  refused: ${printable(i.reason ?? '')}` : i.retaggedFrom ? `  (tag moved from ${short(i.retaggedFrom)})` : '';
      return `  ${mark} ${printable(i.ref)}  ${i.digest}${note}`;
    }),
  ];
  for (const c of r.charts) {
    const mark = chartInPlace(c.status) ? '✅' : c.status === 'pending' ? '⏳' : c.status === 'refused' ? '⛔' : '❌';
    const how = c.status === 'exists' ? 'already there' : c.status === 'replaced' ? 'replaced (--force)' : c.status;
    out.push(`  ${mark} chart ${printable(c.chart)} -> ${printable(c.location)}  ${how}${c.reason ? `: ${printable(c.reason)}` : ''}`);
  }
  const kept = r.files.filter((f) => f.status === 'kept');
  if (kept.length) out.push(`Kept as they are (they differ from the bundle; --overwrite-files replaces them): ${kept.map((f) => printable(f.path)).join(', ')}`);
  for (const d of r.volumesDamaged) out.push(`Damaged: ${printable(d.message)} — re-copy it from the original media and run the same command again.`);
  const skipped = r.files.filter((f) => f.status === 'skipped');
  if (skipped.length) out.push(`Not written (a registry has no place for files; add --files-dir DIR): ${skipped.slice(0, 10).map((f) => printable(f.path)).join(', ')}${skipped.length > 10 ? ', …' : ''}`);
  for (const n of r.notes) out.push(`Note: ${printable(n)}`);
  for (const c of r.check?.items ?? []) out.push(`Check FAILED: ${printable(c.ref)} ${c.status}${c.found ? ` (points at ${c.found})` : ""}${c.detail ? ` (${printable(c.detail)})` : ""}`);
  if (r.volumesMissing.length) out.push(`Not complete: bring ${r.volumesMissing.map(printable).join(', ')} and run the same command again.`);
  if (r.complete && (!r.check || r.check.ok)) out.push(r.check ? 'Complete. Every tag was checked in the target.' : 'Complete.');
  else if (next) out.push(`Next: ${next}`);
  return out.join('\n') + '\n';
}

/** This command again, for the closing line: credentials typed on the command line are not repeated. */
export function nextCommand(program: string, argv: readonly string[]): string {
  const out: string[] = [program];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--creds') { out.push(a, "'USER:PASSWORD'"); i++; continue; }
    if (a.startsWith('--creds=')) { out.push("--creds='USER:PASSWORD'"); continue; }
    out.push(/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  }
  return printable(out.join(' '));
}

/** Per-image state under the progress bar: waiting, uploading, mounted, ready (all there, tag to
 *  come), skipped (there before this run), done (tagged), failed. */
export class ImageStates {
  private readonly rows: Array<{ ref: string; repo: string; digests: Set<string>; have: number; total: number; mounted: number; sent: number; state: string }>;
  private readonly byDigest = new Map<string, ImageStates['rows']>();
  volume = '';
  constructor(tm: TrustedManifest, plan: PushPlan) {
    this.rows = tm.manifest.images.map((img, i) => {
      const n = plan.mapping[i]!;
      const digests = new Set([...img.blobs, ...(img.referrers ?? []).flatMap((r) => r.blobs)]);
      return { ref: n.target, repo: n.repository, digests, have: n.present, total: n.blobs, mounted: 0, sent: 0, state: n.present === n.blobs ? 'skipped' : 'waiting' };
    });
    for (const r of this.rows) for (const d of r.digests) this.byDigest.set(d, [...(this.byDigest.get(d) ?? []), r]);
  }
  private cached: string[] | undefined;

  /** Apply an event; true when the rows changed. */
  apply(e: PushEvent): boolean {
    const changed = this.applyEvent(e);
    if (changed) this.cached = undefined;
    return changed;
  }

  private applyEvent(e: PushEvent): boolean {
    if (e.type === 'volume-start') this.volume = e.file;
    if (e.type === 'blob') {
      for (const r of this.byDigest.get(e.digest) ?? []) {
        if (r.repo !== e.repository) continue;
        r.have++;
        if (e.how === 'mounted') r.mounted++;
        else r.sent++;
        // 'ready': everything is in the target; the tag comes at the end, after every image.
        if (r.state !== 'done' && r.state !== 'failed') r.state = r.have >= r.total ? 'ready' : r.sent === 0 && r.mounted > 0 ? 'mounted' : 'uploading';
      }
      return true;
    }
    if (e.type === 'image' || e.type === 'image-refused') {
      for (const r of this.rows) if (r.ref === e.ref) r.state = e.type === 'image' ? 'done' : 'failed';
      return true;
    }
    return e.type === 'volume-start';
  }
  lines(max = 12): string[] {
    this.cached ??= this.render(max);
    return this.cached;
  }

  private render(max: number): string[] {
    const order = ['uploading', 'mounted', 'ready', 'failed', 'waiting', 'done', 'skipped'];
    const sorted = [...this.rows].sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state));
    const out = sorted.slice(0, max).map((r) => `  ${r.state.padEnd(9)} ${printable(r.ref)}  ${Math.min(r.have, r.total)}/${r.total} blobs${r.mounted ? ` (${r.mounted} mounted)` : ''}`);
    if (this.rows.length > max) out.push(`  … ${this.rows.length - max} more`);
    return out;
  }
}

