// ferry-load: the high-side command (and the transfer officer's checksum). Flags -> options ->
// checksum.ts / verify.ts / inspect.ts / push-command.ts; output mode decided here.

import { hideBin } from 'yargs/helpers';
import { FerryError, signerText, loadTrustedKeys, printable, printableBlock, type TrustedKey, FERRY_VERSION, FORMAT_VERSIONS } from '@ferry/format-spec';
import { asArray, createProgress, DIFF_COMMAND, diffCmd, formatBytes, outputMode, reportError, runCommands, writeJson, writeReportFile, writeText } from '@ferry/cli-kit';
import { INVENTORY_DESCRIBE, inventoryCmd, inventoryOptions, type InventoryArgs } from './inventory/command.js';
import { checksumCmd, type ChecksumArgs } from './checksum-command.js';
import { verifyBundle, verifyFailure } from './verify.js';
import { inspectBundle, type InspectReport } from './inspect.js';
import { deltaLine } from './delta-report.js';
import { openChartSinks, parseChartDestination } from './charts/destinations.js';
import { loadImageKeys } from '@ferry/trust';
import { extractAttestations, extractSboms } from './trust/extract.js';
import { signatureText } from './trust/signature-text.js';
import { doctorOutcome, runDoctor } from './doctor.js';
import { openTrusted } from './bundle.js';
import { readLoadConfig, withConfig, type ConfigurableArgs } from './load-config.js';

/** `--config FILE` under the command line's own flags; `--to` from either is required, except
 *  with `--charts` (a bundle of charts only: push checks that it is one). */
async function configured<T extends ConfigurableArgs & { config?: string }>(a: T): Promise<T> {
  const out = a.config ? withConfig(a, await readLoadConfig(a.config)) : a;
  if (!out.to && !out.charts?.length) throw new FerryError('USAGE', 'give --to TARGET (or to: in the --config file)');
  return out;
}
const configOpt = { type: 'string', describe: 'Load config (YAML/JSON, schemas/load-config.schema.json): trusted keys, --to, --charts, rewrites, CA files… Flags add to its lists and win over its values' } as const;
import { pushCmd } from './push-command.js';
import { checkOutcome, checkTarget } from './check.js';
import { parseRewrite } from './rewrite.js';
import { registryFlags, registryOptionsFrom, type RegistryArgs } from './registry-flags.js';
import { imagePolicyFlags, imagePolicyFrom, type ImagePolicyArgs } from './image-policy-flags.js';
import { k8sCmd, type K8sArgs } from './k8s/command.js';
import { serveCmd, type ServeArgs } from './serve/command.js';

interface CheckArgs extends RegistryArgs {
  path: string;
  trustedKey?: string[];
  to: string;
  rewrite?: string[];
  charts?: string[];
  chartCreds?: string;
  allowUnsigned: boolean;
  json: boolean;
}

async function checkCmd(a: CheckArgs): Promise<number> {
  const mode = outputMode(a.json);
  const registry = registryOptionsFrom(a);
  const chartCreds = a.chartCreds ?? process.env.FERRY_CHART_CREDS;
  const sinks = openChartSinks(asArray(a.charts), { registry, ...(chartCreds ? { creds: chartCreds } : {}) });
  const progress = await createProgress(mode, 'checking');
  let report;
  try {
    report = await checkTarget(a.path, {
      charts: sinks,
      trustedKeys: await trusted(asArray(a.trustedKey)),
      allowUnsigned: a.allowUnsigned,
      ...(a.to ? { to: a.to } : {}),
      rewrites: asArray(a.rewrite).map(parseRewrite),
      registry,
      ...(a.concurrency ? { concurrency: a.concurrency } : {}),
    });
  } finally {
    await progress.finish();
    await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
  }
  const outcome = checkOutcome(report);
  if (a.json) {
    writeJson({ ...report, ...(outcome ? { error: { code: outcome.code, message: outcome.message, exitCode: outcome.exitCode } } : {}) });
    return outcome ? outcome.exitCode : 0;
  }
  const mark = { ok: '✅', missing: '❌ MISSING', different: '❌ DIFFERENT', incomplete: '❌ INCOMPLETE' } as const;
  const lines = report.items.map((i) => `${mark[i.status]} ${p(i.ref)}  ${i.expected}${i.found ? `  (the target has ${i.found})` : ''}${i.missing ? `  lacks ${i.missing.slice(0, 3).join(', ')}${i.missing.length > 3 ? ', …' : ''}` : ''}${i.detail ? `  (${p(i.detail)})` : ''}`);
  const good = report.items.filter((i) => i.status === 'ok').length;
  lines.push(outcome ? `${good}/${report.items.length} in ${p(report.target)} as the bundle has them.` : `All ${report.items.length} item(s) are in ${p(report.target)} as the bundle has them.`);
  writeText(lines.join('\n') + '\n');
  return outcome ? reportError(outcome, { program: PROGRAM, json: false }) : 0;
}

const PROGRAM = 'ferry-load';

async function trusted(keys: string[]): Promise<TrustedKey[]> {
  return loadTrustedKeys(keys);
}

// Printing: every value taken from a bundle (names, paths, sources, refs, signer fields, and
// error messages that quote entry names) goes through printable() here, and the cli-kit
// writers sanitise again, so an untrusted bundle cannot draw over the lines Ferry prints.
const p = printable;

async function verifyCmd(a: { path: string; trustedKey?: string[]; allowUnsigned: boolean; json: boolean; report?: string } & ImagePolicyArgs): Promise<number> {
  const mode = outputMode(a.json);
  const policy = await imagePolicyFrom(a);
  const progress = await createProgress(mode, 'verifying');
  const report = await verifyBundle(a.path, {
    trustedKeys: await trusted(asArray(a.trustedKey)),
    allowUnsigned: a.allowUnsigned,
    policy,
    onVolume: (v) => progress.log(v.status === 'ok' ? `✅ ${p(v.file)}: ${v.entries} entries verified` : v.status === 'missing' ? `❌ ${p(v.file)}: missing` : `❌ ${p(v.file)}: ${p(v.error?.message ?? '')}`),
    onBytes: (bytes, total) => progress.update({ bytes, total }),
  }).finally(() => progress.finish());
  const failure = verifyFailure(report);
  // Messages are human text quoting entry names: sanitised; the rest is data, escaped by writeJson.
  const volumes = report.volumes.map((v) => (v.error ? { ...v, error: { ...v.error, message: printableBlock(v.error.message) } } : v));
  const doc = { ...report, volumes, ok: !failure, ...(failure ? { error: { code: failure.code, message: printableBlock(failure.message), exitCode: failure.exitCode } } : {}) };
  if (a.report) await writeReportFile(a.report, doc);
  if (a.json) {
    writeJson(doc);
  } else {
    writeText(
      `Bundle ${p(report.bundle)}: signature ${report.signature === 'verified' ? `verified by ${p(report.signer ? signerText(report.signer) : '')}` : 'NOT CHECKED (unsigned, allowed by --allow-unsigned)'}\n` +
        report.volumes.map((v) => `  ${v.status === 'ok' ? 'OK     ' : v.status === 'missing' ? 'MISSING' : 'BAD    '} ${p(v.file)}${v.error ? `  ${p(v.error.message)}` : ''}`).join('\n') +
        report.loaders.map((l) => `\n  ${l.status === 'ok' ? 'OK     ' : l.status === 'absent' ? 'ABSENT ' : 'BAD    '} ${p(l.file)}  ${l.status === 'ok' ? 'ferry-load executable as signed' : l.status === 'absent' ? 'ferry-load executable listed in the manifest, not carried here (optional)' : p(l.reason ?? '')}`).join('') +
        (report.delta ? `\n  ${deltaLine(report.delta, formatBytes, p)}` : '') +
        (report.images ? '\n' + report.images.map((i) => `  ${i.refused ? 'REFUSED' : 'IMAGE  '} ${p(i.ref)}  ${signatureText(i.signature)}${i.refused ? `\n          ${p(i.refused)}` : ''}`).join('\n') : '') +
        `\n${failure ? 'RESULT: FAIL' : 'RESULT: OK'} — ${report.blobsVerified} blobs, ${formatBytes(report.bytesVerified)} verified in ${report.seconds.toFixed(1)} s\n`,
    );
  }
  if (failure) {
    if (!a.json) reportError(failure, { program: PROGRAM, json: false });
    return failure.exitCode;
  }
  return 0;
}

interface DoctorArgs extends RegistryArgs {
  path?: string;
  to: string;
  trustedKey?: string[];
  rewrite?: string[];
  imageKey?: string[];
  allowUnsigned: boolean;
  json: boolean;
}

async function doctorCmd(a: DoctorArgs): Promise<number> {
  const imageKeys = asArray(a.imageKey).length ? await loadImageKeys(asArray(a.imageKey)) : [];
  const r = await runDoctor({
    to: a.to,
    ...(a.path ? { path: a.path } : {}),
    trustedKeys: await trusted(asArray(a.trustedKey)),
    allowUnsigned: a.allowUnsigned,
    registry: registryOptionsFrom(a),
    rewrites: asArray(a.rewrite).map(parseRewrite),
    imageKeys,
  });
  const outcome = doctorOutcome(r);
  if (a.json) {
    writeJson({ ...r, ...(outcome ? { error: { code: outcome.code, message: outcome.message, exitCode: outcome.exitCode } } : {}) });
    return outcome ? outcome.exitCode : 0;
  }
  const mark = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;
  writeText(r.checks.map((c) => `${mark[c.status]}  ${c.check}: ${p(c.detail)}${c.fix ? `\n      fix: ${p(c.fix)}` : ''}`).join('\n') + `\n${r.ok ? 'All checks passed.' : 'Some checks failed (see the fixes above).'}\n`);
  return outcome ? reportError(outcome, { program: PROGRAM, json: false }) : 0;
}

interface TrustArgs {
  path: string;
  trustedKey?: string[];
  allowUnsigned: boolean;
  image?: string;
  imageKey?: string[];
  json: boolean;
}

async function sbomCmd(a: TrustArgs & { out?: string }): Promise<number> {
  const tm = await openTrusted(a.path, { trustedKeys: await trusted(asArray(a.trustedKey)), allowUnsigned: a.allowUnsigned });
  const keys = asArray(a.imageKey).length ? await loadImageKeys(asArray(a.imageKey)) : [];
  const list = await extractSboms(tm, { ...(a.image ? { image: a.image } : {}), ...(a.out ? { out: a.out } : {}), keys });
  if (a.json) writeJson({ ok: true, sboms: list });
  else writeText((list.length ? list.map((s) => `${p(s.image)}  ${p(s.format)}${s.size !== undefined ? `  ${formatBytes(s.size)}` : ''}  (${p(s.source)}${s.verified === false ? ', attestation NOT verified' : ''})${s.file ? `  -> ${p(s.file)}` : ''}${s.reason ? `  ${p(s.reason)}` : ''}`) : ['No SBOM is carried for the image(s).']).join('\n') + '\n');
  return 0;
}

async function attestationsCmd(a: TrustArgs & { image: string; type?: string[] }): Promise<number> {
  const tm = await openTrusted(a.path, { trustedKeys: await trusted(asArray(a.trustedKey)), allowUnsigned: a.allowUnsigned });
  const keys = await loadImageKeys(asArray(a.imageKey));
  const list = await extractAttestations(tm, { image: a.image, keys, ...(asArray(a.type).length ? { types: asArray(a.type) } : {}) });
  const verified = list.filter((x) => x.verified);
  writeJson({ ok: verified.length > 0, attestations: list });
  if (!verified.length) return reportError(new FerryError('SIGNATURE_POLICY', `${a.image}: no attestation${asArray(a.type).length ? ` of type ${asArray(a.type).join(', ')}` : ''} verifies with the given --image-key`), { program: PROGRAM, json: false });
  return 0;
}


function printInspect(r: InspectReport): void {
  const signer = r.signature.signer;
  const sig =
    r.signature.status === 'verified' ? `verified by ${p(r.signature.signer ? signerText(r.signature.signer) : '')}` :
    r.signature.status === 'absent' ? 'UNSIGNED' :
    `present, NOT verified (pass --trusted-key to check); claims key ${p(String(signer?.fingerprint ?? 'unknown'))} (${p(String(signer?.algorithm ?? '?'))})`;
  const out: string[] = [
    `Bundle:    ${p(r.bundle)} (${p(r.dir)})`,
    `Created:   ${p(r.created)} by ${p(r.tool)}`,
    `Signature: ${sig}`,
    `Content:   ${r.images.length} image(s), ${r.charts.length} chart(s), ${r.files.length} file(s), ${r.keys.length} key(s); ${r.totals.blobs} blobs, ${formatBytes(r.totals.bytes)}`,
    ...(r.delta ? [deltaLine(r.delta, formatBytes, p)] : []),
    '',
    'Images:',
    ...r.images.map((i) => `  ${p(i.ref)}\n      ${p(i.digest)}  ${i.platforms.map(p).join(', ') || 'platform not recorded'}  ${formatBytes(i.bytes)}${i.platformFilter !== 'all' ? `\n      platforms ${p(i.platformFilter)}` : ''}\n      from ${p(i.source)}${i.signature ? `\n      ${signatureText(i.signature)}` : ''}`),
    ...(r.charts.length
      ? [
          'Charts:',
          ...r.charts.flatMap((c) => [
            `  ${p(c.name)} ${p(c.version)}${c.appVersion ? ` (app ${p(c.appVersion)})` : ''}  ${formatBytes(c.size)}${c.provenance ? ', with .prov' : ''}${c.requiredBy ? `  dependency of ${c.requiredBy.map(p).join(', ')}` : ''}`,
            `      ${p(c.digest)}  in the layout as ${p(c.layoutRef)}`,
            `      from ${p(c.source)}`,
            ...c.images.slice(0, 10).map((i) => `      names image ${p(i.reference)} (${p(i.file)}:${i.line})`),
            ...c.next.map((n) => `      $ ${p(n)}`),
          ]),
        ]
      : []),
    'Files:',
    ...(r.files.length ? r.files.map((f) => `  ${p(f.path)}  ${formatBytes(f.size)}  ${p(f.digest)}`) : ['  (none)']),
    'Public keys carried (cargo, not trusted by Ferry):',
    ...(r.keys.length ? r.keys.map((k) => `  ${p(k.path)}  ${p(k.algorithm)}  ${p(k.fingerprint)}`) : ['  (none)']),
    ...(r.loaders.length ? ['ferry-load executables beside the volumes (verify checks them):', ...r.loaders.map((l) => `  ${l.present ? 'present' : 'absent '}  ${p(l.file)}  ${formatBytes(l.size)}  ${p(l.digest)}`)] : []),
    `Volumes (at most ${formatBytes(r.totals.volumeSize)} each):`,
    ...r.volumes.map((v) => `  ${v.problem ? 'INVALID' : v.present ? 'present' : 'MISSING'}  ${p(v.file)}  ${v.size !== undefined ? formatBytes(v.size) : ''}  ${v.blobs} blobs, ${formatBytes(v.bytes)} content${v.problem ? `  ${p(v.problem)}` : ''}`),
  ];
  writeText(out.join('\n') + '\n');
}

async function inspectCmd(a: { path: string; trustedKey?: string[]; charts?: string; imageKey?: string[]; json: boolean }): Promise<number> {
  const imageKeys = asArray(a.imageKey).length ? await loadImageKeys(asArray(a.imageKey)) : [];
  const report = await inspectBundle(a.path, await trusted(asArray(a.trustedKey)), a.charts ? parseChartDestination(a.charts) : undefined, imageKeys);
  if (a.json) writeJson({ ok: true, ...report });
  else printInspect(report);
  return 0;
}

export async function main(args: string[] = hideBin(process.argv)): Promise<number> {
  const trustedKeyOpt = { type: 'string', array: true, describe: 'Public key the high side trusts (repeatable). Never taken from the bundle.' } as const;
  return runCommands(PROGRAM, args, '$0 <command> PATH [options]\n\nCheck, inspect and load Ferry bundles on the air-gapped side.\nPATH is the bundle directory, NAME.manifest.json or NAME.sha256.', (y, setCode) =>
    y
      .command(
        'checksum <path>',
        'Transfer officer: check every volume against NAME.sha256 and print a PASS/FAIL receipt (same result as sha256sum -c)',
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', { ...trustedKeyOpt, alias: 'key', describe: 'Also check NAME.sha256.sig with this public key (repeatable; --key is the old spelling)' })
            .option('ignore-missing', { type: 'boolean', default: false, describe: 'One disc of a set: check the listed files that are present, skip the others (as sha256sum -c --ignore-missing); the verdict names the volumes checked' })
            .option('volumes', { type: 'string', describe: 'Check only these volumes: 2,3 or 2-4 (the NNN of NAME-NNN.tar.zst); the others listed are not checked' })
            .option('receipt', { type: 'string', describe: 'Also write the receipt to this file (for a FAIL too)' })
            .option('report', { type: 'string', describe: 'Also write the JSON report to this file' })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }),
        async (a) => {
          setCode(await checksumCmd(a as unknown as ChecksumArgs));
        },
      )
      .command(
        'verify <path>',
        'Check the signature against trusted keys, the manifest schema, and every blob in every volume; with --image-key also every image\'s cosign signatures (and the policy flags); writes nothing',
        (y) =>
          imagePolicyFlags(y, 'verify')
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('report', { type: 'string', describe: 'Also write the JSON report (schemas/verify-report.schema.json) to this file, for the record' })
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }),
        async (a) => {
          setCode(await verifyCmd(a as unknown as Parameters<typeof verifyCmd>[0]));
        },
      )
      .command(
        'inspect <path>',
        'Show what a bundle carries: images, platforms, charts, files, keys, volumes, signer',
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('charts', { type: 'string', describe: 'Show the helm commands for this chart destination (as given to push --charts)' })
            .option('image-key', { type: 'string', array: true, describe: "Check each image's cosign signatures and attestations with these keys (the high side's) and list its SBOMs (reads the volumes that are here)" })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }),
        async (a) => {
          setCode(await inspectCmd(a as unknown as Parameters<typeof inspectCmd>[0]));
        },
      )
      .command(
        'check <path>',
        'Is everything the bundle promises in the target? Every tag resolved and compared with the bundled digest, every manifest and blob below it, every signature tag and referrer (read-only)',
        (y) =>
          registryFlags(y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('config', configOpt)
            .option('to', { type: 'string', describe: 'The target push loaded into: HOST[:PORT][/PREFIX] or oci:DIR' })
            .option('rewrite', { type: 'string', array: true, describe: 'The same FROM=TO rules given to push' })
            .option('charts', { type: 'string', array: true, describe: 'Also check the charts in these destinations (as given to push --charts)' })
            .option('chart-creds', { type: 'string', describe: 'USER[:PASSWORD] for ChartMuseum and Artifactory destinations (or FERRY_CHART_CREDS)' })
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }))
            .example('$0 check /media/usb --trusted-key ferry.pub --to registry.local:5000', ''),
        async (a) => {
          setCode(await checkCmd(await configured(a as unknown as CheckArgs & { config?: string })));
        },
      )
      .command(
        'push <path>',
        'Verify, then load images into the target and files/keys beside it; volumes may come in any order and over several runs',
        (y) =>
          registryFlags(imagePolicyFlags(y, 'push')
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('config', configOpt)
            .option('to', { type: 'string', describe: 'Target: HOST[:PORT][/PREFIX] (a registry; docker://… too) or oci:DIR (an OCI image layout directory). Images keep their path under it: gcr.io/team/app:1 -> HOST/PREFIX/team/app:1' })
            .option('files-dir', { type: 'string', describe: 'Where carried files and keys go (default for oci:DIR: DIR-files beside the layout; for a registry: not written unless given)' })
            .option('state-dir', { type: 'string', describe: 'Registry targets: where a run keeps what the registry cannot tell the next one (manifests of images not complete yet, split blobs in progress, the run lock). Default $XDG_STATE_HOME/ferry or ~/.local/state/ferry; never the bundle media' })
            .option('charts', { type: 'string', array: true, describe: 'Where charts go (repeatable): oci://HOST[:PORT]/PATH (Helm OCI, Harbor), chartmuseum+http(s)://HOST[/PATH], artifactory+https://HOST/artifactory/REPO, or dir:PATH (a static repository with index.yaml). Auth and TLS as for registries' })
            .option('force', { type: 'boolean', default: false, describe: 'Replace a chart a destination holds with other bytes under the same version (default: refuse before writing anything)' })
            .option('chart-creds', { type: 'string', describe: 'USER[:PASSWORD] (or :TOKEN) for ChartMuseum and Artifactory destinations (or FERRY_CHART_CREDS); oci:// destinations use the registry credentials' })
            .option('k8s-out', { type: 'string', describe: 'After the load, also write what ferry-load k8s writes (cosign-keys ConfigMap with the --image-key keys, node mirror configuration, signature policies, a pull secret template) into DIR' })
            .option('namespace', { type: 'string', describe: 'With --k8s-out: namespace of the ConfigMap and pull secret' })
            .option('rewrite', { type: 'string', array: true, describe: 'FROM=TO: rename repositories on load (repeatable; first match wins)' })
            .option('overwrite-files', { type: 'boolean', default: false, describe: 'Replace carried files whose local copy was changed since Ferry wrote it (default: keep them and report it)' })
            .option('retag', { type: 'boolean', default: true, describe: 'Move tags that point at other content (shown before loading). --no-retag refuses the load instead, before writing anything' })
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('report', { type: 'string', describe: 'Also write the JSON report to this file' })
            .option('yes', { type: 'boolean', alias: 'y', default: false, describe: 'Do not ask for confirmation' })
            .option('json', { type: 'boolean', default: false, describe: 'Print the JSON report (schemas/push-report.schema.json) on stdout, no progress' }))
            .epilog('Exit codes: 0 loaded and checked; 15 volumes still needed (the report names them); 9/10/17 a damaged volume; 11 refused content; 13 registry or chart repository unreachable, TLS, credentials or no push permission; 14 target not writable; 16 local files kept or a chart upload failed; 18 another load runs; 19 --no-retag and a tag would move; 20 answered no; 21 a tag or chart is not there after loading; 22 a chart breaks a rule of Helm; 23 a destination holds another chart under the same version (--force replaces it); 24 images left out by --require-signed-images; 130 interrupted. Run the same command again to continue: finished work is kept.')
            .example('$0 push /media/usb --trusted-key /etc/ferry/trusted/ferry.pub --to registry.local:5000', 'load into a registry (asks first)')
            .example('$0 push /media/usb --trusted-key ferry.pub --to registry.local:5000/mirror --ca-file ca.pem --creds loader --yes', 'under a prefix, TLS with a private CA, no question')
            .example('$0 push /media/usb --trusted-key ferry.pub --to oci:/srv/images', 'into an OCI layout directory')
            .example('$0 push /media/usb --trusted-key ferry.pub --to harbor.local/mirror --charts oci://harbor.local/charts --charts dir:/srv/charts', 'images to Harbor, charts as Helm OCI artifacts and into a static repository'),
        async (a) => {
          setCode(await pushCmd(await configured(a as unknown as Parameters<typeof pushCmd>[0] & { config?: string })));
        },
      )
      .command(
        'k8s <path>',
        'Write what a cluster needs to use what push loaded: the cosign-keys ConfigMap, node mirror configuration (containerd, CRI-O/podman, OpenShift), Kyverno and policy-controller signature policies, a pull secret template (reads the manifest only; contacts nothing)',
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('config', configOpt)
            .option('to', { type: 'string', describe: 'The registry push loaded into: HOST[:PORT][/PREFIX]' })
            .option('rewrite', { type: 'string', array: true, describe: 'The same FROM=TO rules given to push' })
            .option('image-key', { type: 'string', array: true, describe: "[NAME=]FILE: the high side's image-signing public key (cosign.pub), repeatable; for the ConfigMap and the policies. Never taken from the bundle" })
            .option('namespace', { type: 'string', describe: 'Namespace of the ConfigMap and the pull secret (default: none set, kubectl uses the current one)' })
            .option('out', { type: 'string', describe: 'Write one file each under DIR (default: one multi-document YAML on stdout)' })
            .option('force', { type: 'boolean', default: false, describe: 'Replace files under --out that hold other content (default: refuse before writing anything)' })
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print what was made (and, without --out, each file\'s content) as JSON' })
            .epilog('Exit codes: 0 made; 2 usage, or a file under --out holds other content (--force replaces it); 3 bundle or key file not found; 4 manifest invalid; 5 an --image-key is not a PEM public key; 6 signature missing or not trusted; 14 --out not writable.')
            .example('$0 k8s /media/usb --trusted-key ferry.pub --to registry.local:5000/mirror --image-key /etc/ferry/cosign.pub --namespace security --out k8s/', 'one file each under k8s/')
            .example('$0 k8s /media/usb --trusted-key ferry.pub --to registry.local:5000 --rewrite gcr.io/cleanstart=platform --image-key cosign.pub', 'everything as one YAML stream on stdout'),
        async (a) => {
          setCode(await k8sCmd(a as unknown as K8sArgs));
        },
      )
      .command(
        'serve <path>',
        'A read-only registry straight from the volumes (after the signature and the volumes are checked): bootstrap a cluster that has no registry yet, or let skopeo, crane and helm read the bundle directly',
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('listen', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on (0.0.0.0:PORT for the whole network; port 0 picks a free one, named in the startup line)' })
            .option('tls-cert', { type: 'string', describe: 'Serve HTTPS with this PEM certificate (chain)' })
            .option('tls-key', { type: 'string', describe: 'The PEM private key of --tls-cert' })
            .option('json', { type: 'boolean', default: false, describe: 'Startup line (with the URL) and request log lines as JSON' })
            .epilog('Serves the pull side of the OCI distribution API (manifests, blobs with Range, tags/list, referrers, _catalog) under the repositories the bundle names, and its charts as oci://HOST:PORT/charts/NAME. Nothing is extracted; every blob is checked against its digest as it is sent (a damaged one is cut off, never delivered whole). Point containerd at it with a hosts.toml mirror (`ferry-load k8s PATH --to HOST:PORT` writes one), install Harbor from it, then `ferry-load push` into Harbor. Stop with Ctrl-C (SIGINT) or SIGTERM. Exit codes: 0 stopped; 2 usage or the address is in use; 6 signature missing or not trusted; 10 a volume is damaged (seek table); 11 a volume is hostile; 17 a volume is not a regular file.')
            .example('$0 serve /media/usb --trusted-key ferry.pub', 'on 127.0.0.1:5000: skopeo copy docker://127.0.0.1:5000/team/app:1 …')
            .example('$0 serve /media/usb --trusted-key ferry.pub --listen 0.0.0.0:5443 --tls-cert reg.crt --tls-key reg.key', 'HTTPS for the cluster nodes')
            .example('$0 serve /media/usb --trusted-key ferry.pub --listen 127.0.0.1:0 --json --quiet', 'a free port, named in the JSON startup line'),
        async (a) => {
          setCode(await serveCmd(a as unknown as ServeArgs));
        },
      )
      .command(
        'sbom <path>',
        'List the SBOMs carried beside each image (cosign attachments, SBOM attestations, SBOM referrers) and, with --out, write them as files named by image and format; reads the volumes only',
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('image', { type: 'string', describe: 'Only this image: REPOSITORY[:TAG] as the bundle names it (inspect lists them)' })
            .option('image-key', { type: 'string', array: true, describe: "The high side's cosign key(s): an SBOM attestation is written only when one of them verified it" })
            .option('out', { type: 'string', describe: 'Write each SBOM into DIR (image_tag.spdx.json, .cdx.json, …)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }),
        async (a) => {
          setCode(await sbomCmd(a as unknown as TrustArgs & { out?: string }));
        },
      )
      .command(
        'attestations <path>',
        "Print the predicates of an image's attestations that a trusted --image-key verified (JSON), e.g. its SLSA provenance; reads the volumes only",
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true })
            .option('trusted-key', trustedKeyOpt)
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('image', { type: 'string', demandOption: true, describe: 'REPOSITORY[:TAG] as the bundle names it (inspect lists them)' })
            .option('type', { type: 'string', array: true, describe: 'slsaprovenance, spdx, spdxjson, cyclonedx, vuln, custom or a predicate URI' })
            .option('image-key', { type: 'string', array: true, demandOption: true, describe: "The high side's cosign key(s) that must have signed the attestation" }),
        async (a) => {
          setCode(await attestationsCmd(a as unknown as TrustArgs & { image: string; type?: string[] }));
        },
      )
      .command(
        'doctor [path]',
        "The troubleshooting checks as one read-only command, each PASS or FAIL with the fix: registry reachable, TLS trusted, credentials accepted, push allowed; with PATH every bundled tag, signature tag and referrer in place; with --image-key the signatures verify",
        (y) =>
          registryFlags(y
            .positional('path', { type: 'string', describe: 'The bundle whose promises to check in the registry (optional)' })
            .option('trusted-key', trustedKeyOpt)
            .option('config', configOpt)
            .option('to', { type: 'string', describe: 'The registry: HOST[:PORT][/PREFIX]' })
            .option('rewrite', { type: 'string', array: true, describe: 'The same FROM=TO rules given to push' })
            .option('image-key', { type: 'string', array: true, describe: "The high side's cosign key(s): also check that every image's signature verifies" })
            .option('allow-unsigned', { type: 'boolean', default: false, describe: 'Accept a bundle with no signature (your policy must allow it)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }))
            .epilog('Exit codes: 0 every check passed; 21 a check failed (the first is named; every one is listed); 2 usage.')
            .example('$0 doctor --to registry.local:5000 --ca-file ca.pem', 'is the registry usable at all?')
            .example('$0 doctor /media/usb --trusted-key ferry.pub --to registry.local:5000 --image-key cosign.pub', 'and is everything the bundle promises there?'),
        async (a) => {
          setCode(await doctorCmd(await configured(a as unknown as DoctorArgs & { config?: string })));
        },
      )
      .command('inventory', INVENTORY_DESCRIBE, inventoryOptions, async (a) => {
        setCode(await inventoryCmd(a as unknown as InventoryArgs));
      })
      .command(DIFF_COMMAND.command, DIFF_COMMAND.describe, DIFF_COMMAND.builder, async (a) => {
        setCode(await diffCmd(a));
      }),
    'Give a command: checksum, verify, inspect, push, check, k8s, serve, sbom, attestations, doctor, inventory or diff',
    { version: FERRY_VERSION, formats: FORMAT_VERSIONS },
  );
}
