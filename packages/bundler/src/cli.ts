// ferry-bundle: the connected-side command. Parses flags (and a spec file), then hands one
// options object to create.ts; all output decisions (json / tty / plain / CI) are made here.

import { hideBin } from 'yargs/helpers';
import type { Argv } from 'yargs';
import { FerryError, VOLUME_PRESETS, imageRefName, printable, FERRY_VERSION, FORMAT_VERSIONS } from '@ferry/format-spec';
import { redactCredentials } from '@ferry/oci';
import { createProgress, formatBytes, outputMode, reportError, runCommands, terminalPrompt, writeJson, writeReportFile, writeText } from '@ferry/cli-kit';
import { keygen, type KeygenArgs } from './keygen.js';
import { DIFF_COMMAND, diffCmd } from '@ferry/cli-kit';
import { burnPlanLines, planMediaCmd } from './plan-media-command.js';
import { createBundle, type CreateResult } from './create.js';
import { createRequest, openSigningKey, type CreateArgv } from './create-request.js';
import { ImageFailures } from './image-failures.js';
import { cacheSummary } from './cache-summary.js';
import { createReport } from './create-report.js';
import { syncCmd, type SyncArgv } from './sync-command.js';

const PROGRAM = 'ferry-bundle';

/** A source string for output: no credentials, no control characters. */
const show = (s: string): string => printable(redactCredentials(s));

async function create(argv: CreateArgv & { report?: string }): Promise<number> {
  const req = await createRequest(argv);
  const { sizeText, loaders } = req;
  const volumeSize = req.options.volumeSize;
  const mode = outputMode(argv.json);
  const key = await openSigningKey(argv);
  const progress = await createProgress(mode, 'bundling');
  const say = (line: string) => progress.log(line);
  try {
    const result = await createBundle({
      ...req.options,
      ...(key ? { key } : {}),
      onEvent: (e) => {
        if (e.type === 'chart') say(`✅ chart ${printable(e.name)} ${printable(e.version)} from ${show(e.source)}${e.requiredBy ? ` (dependency of ${e.requiredBy.map(printable).join(', ')})` : ''}${e.images ? `, names ${e.images} image(s)` : ''}`);
        else if (e.type === 'resolved') say(`✅ ${show(e.source)} -> ${printable(e.repository)}${e.tag ? `:${printable(e.tag)}` : ''} ${e.digest.slice(0, 19)}… ${formatBytes(e.bytes)}${e.referrers ? `, ${e.referrers} signature/attestation/SBOM artifact(s)` : ''}`);
        else if (e.type === 'sbom') say(`📄 SBOM ${printable(e.file)} (${e.mediaType}) -> ${printable(e.image)}${e.alreadyAtSource ? ', already a referrer at the source: carried once' : `, referrer ${e.referrer.slice(0, 19)}…`}`);
        else if (e.type === 'failed') say(`❌ ${show(e.source)}: ${show(e.message)}`);
        else if (e.type === 'planned') say(`Plan: ${e.blobs} blobs, ${formatBytes(e.bytes)} in ${e.volumes} volume(s) of at most ${formatBytes(volumeSize)}`);
        else if (e.type === 'hashing-segments') say(`Hashing the segments of ${e.blobs} blob(s) larger than a volume (${formatBytes(e.bytes)}, read once more before writing)`);
        else if (e.type === 'progress') {
          if (e.done) say(`  written ${e.done}`);
          progress.update({ bytes: e.bytes, total: e.total, detail: `volume ${e.volume} · images written ${e.images.done}/${e.images.total}` });
        }
        else if (e.type === 'written') say(`Wrote ${printable(e.file)} (${formatBytes(e.size)})`);
      },
    });
    await progress.finish();
    const failed = result.failures.length > 0;
    const cache = req.cacheStats;
    const doc = createReport(result, cache);
    if (argv.report) await writeReportFile(argv.report, doc);
    if (argv.json) {
      writeJson(doc);
      return failed ? new FerryError('PARTIAL_FAILURE', '').exitCode : 0;
    }
    const lines = [
      `Bundle ${result.name} in ${result.dir}: ${result.images.length} image(s), ${result.charts.length} chart(s), ${result.files.length} file(s), ${result.keys.length} key(s), ${formatBytes(result.blobBytes)} in ${result.volumes.length} volume(s)`,
      result.signed ? `Signed with key ${result.signer?.fingerprint} (${result.signer?.algorithm})` : 'UNSIGNED: loaders will refuse it unless given --allow-unsigned',
      ...result.images.flatMap((i) => [
        `  ✅ ${printable(i.repository)}${i.tag ? `:${printable(i.tag)}` : ''} ${i.digest}${i.referrers ? ` (+${i.referrers} signature/attestation/SBOM)` : ''}  from ${show(i.source)}`,
        ...result.sboms
          .filter((b) => b.image === imageRefName(i))
          .map((b) => `     + SBOM ${printable(b.file)} (${b.mediaType}, ${formatBytes(b.size)}) attached as referrer ${b.referrer}${b.alreadyAtSource ? ' (the source already had it)' : ''}`),
      ]),
      ...result.charts.map((c) => `  ✅ chart ${printable(c.name)} ${printable(c.version)} ${c.digest}${c.provenance ? ' (+.prov)' : ''}${c.requiredBy ? `  dependency of ${c.requiredBy.map(printable).join(', ')}` : ''}  from ${show(c.source)}`),
      ...result.chartImages.map((i) => `  ${i.carried ? '✅' : '❌'} image ${show(i.reference)} named by chart ${printable(i.chart)} (${printable(i.file)}:${i.line})`),
      ...result.volumes.map((v) => `  ${v.file}  ${formatBytes(v.size)}  sha256:${v.sha256}`),
      ...(result.delta ? [savingLine(result.delta)] : []),
      ...(cache ? [cacheSummary(cache)] : []),
      ...loaders.map((l) => `  ${l.file}  ${formatBytes(l.size)}  ${l.digest}  (ferry-load for ${l.platform})`),
      `Next: copy every file of ${result.name}.* and ${result.name}-*.tar.zst${loaders.length ? ` and ${loaders.map((l) => l.file).join(', ')}` : ''} to the media; the transfer officer runs "ferry-load checksum ${result.name}.sha256" (or sha256sum -c ${result.name}.sha256).`,
      ...(await burnPlanLines(result.dir, result.name, sizeText)),
    ];
    if (failed) lines.push(`${result.failures.length} image(s) FAILED and are not in the bundle:`, ...result.failures.map((f) => `  ❌ ${show(f.source)}: [${f.code}] ${show(f.message)}`));
    writeText(lines.join('\n') + '\n');
    return failed ? new FerryError('PARTIAL_FAILURE', '').exitCode : 0;
  } catch (e) {
    await progress.finish();
    if (e instanceof ImageFailures && (argv.json || argv.report)) {
      // Every failure with its own code, in both documents; told here, so nothing replaces the file with a shorter one.
      if (argv.report) await writeReportFile(argv.report, e.toJson());
      if (argv.json) writeJson(e.toJson());
      return argv.json ? e.exitCode : reportError(e, { program: PROGRAM, json: false });
    }
    throw e;
  } finally {
    req.close();
  }
}


/** `carried 12.3 MiB of 480 MiB (saved 467 MiB: 31 blobs required from weekly-2026-11-29)` */
export function savingLine(d: NonNullable<CreateResult['delta']>): string {
  const from = d.baselines.filter((b) => b.requiredBlobs > 0).map((b) => printable(b.name));
  const saved = d.requiredBlobs ? `saved ${formatBytes(d.requiredBytes)}: ${d.requiredBlobs} blob(s) required from ${from.join(', ')}` : `nothing saved: no blob of it is in ${d.baselines.map((b) => printable(b.name)).join(', ')}`;
  // "of": what the bundle would carry without baselines (the required blobs put back).
  return `Delta: carried ${formatBytes(d.carriedBytes)} of ${formatBytes(d.carriedBytes + d.requiredBytes)} (${saved})`;
}

/** The flags `create` and `sync` share: what to carry, from where, and how it is signed and packed. */
function contentFlags<T>(y: Argv<T>) {
  return y
    .option('key', { type: 'string', describe: 'Private key from "ferry-bundle keygen" or cosign generate-key-pair; its passphrase from --password-file, FERRY_KEY_PASSWORD_FILE, FERRY_KEY_PASSWORD, COSIGN_PASSWORD (cosign keys), else asked on a terminal' })
    .option('password-file', { type: 'string', describe: 'Read the key passphrase from the first line of FILE (or FERRY_KEY_PASSWORD_FILE)' })
    .option('unsigned', { type: 'boolean', default: false, describe: 'Write an unsigned bundle (loaders refuse it without --allow-unsigned)' })
    .option('image', { type: 'string', array: true, describe: 'Image: oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF] or a registry reference' })
    .option('images-file', { type: 'string', array: true, describe: 'File with one image reference per line (# comments allowed)' })
    .option('chart', { type: 'string', array: true, describe: 'Helm chart: https://REPO/NAME@VERSION (or @RANGE like ^2.0.0), REPO-NAME/NAME@VERSION (a Helm repositories.yaml entry), oci://HOST/PATH/NAME:VERSION, or a local .tgz, chart directory or glob' })
    .option('charts-file', { type: 'string', array: true, describe: 'File with one --chart value per line (# comments allowed)' })
    .option('chart-dependencies', { type: 'boolean', describe: 'Also carry dependencies a chart lists but does not vendor under charts/ (Chart.lock versions win)' })
    .option('chart-images', { type: 'boolean', describe: 'Also carry the images charts name in values.yaml and templates (the report lists what was found where)' })
    .option('chart-creds', { type: 'string', describe: 'USER[:PASSWORD] for classic chart repositories (or FERRY_CHART_CREDS); never written anywhere' })
    .option('repository-config', { type: 'string', describe: 'Helm repositories.yaml: credentials and CA per chart repository, and REPO-NAME/NAME charts' })
    .option('file', { type: 'string', array: true, describe: 'File path or glob to carry (absolute ones too); SRC=DEST names its path in the bundle (a directory for a glob)' })
    .option('public-key', { type: 'string', array: true, describe: 'Public key to carry for the high side (never used for trust there)' })
    .option('platform', { type: 'string', array: true, describe: 'Keep only OS/ARCH[/VARIANT] from multi-platform images (repeatable; digests of what is kept never change); all: every platform (the default)' })
    .option('volume-size', { type: 'string', describe: `Largest volume: bytes with units (700M, 4.7GB, 2GiB) or a preset: ${Object.keys(VOLUME_PRESETS).join(', ')} (default usb-fat32)` })
    .option('compression-level', { type: 'number', describe: 'zstd level (default 3; layers are already compressed, so higher rarely pays)' })
    .option('concurrency', { type: 'number', describe: 'Requests in flight per registry (default 6)' })
    .option('authfile', { type: 'string', describe: 'Registry credentials file (docker config.json / containers auth.json); default $REGISTRY_AUTH_FILE, ~/.docker/config.json, containers auth.json' })
    .option('creds', { type: 'string', describe: 'USER[:PASSWORD] for registry sources (or FERRY_REGISTRY_CREDS); never written anywhere' })
    .option('ca-file', { type: 'string', array: true, describe: 'Extra CA certificate(s) (PEM) to trust for registry TLS' })
    .option('insecure-registry', { type: 'string', array: true, describe: 'HOST[:PORT] reached over plain HTTP or unverified TLS (that host only)' })
    .option('tls-verify', { type: 'boolean', describe: "--tls-verify=false: the registries the --image references name are reached over plain HTTP or unverified TLS (skopeo's spelling of --insecure-registry for each of them)" })
    .option('src-tls-verify', { type: 'boolean', describe: 'The same as --tls-verify, as skopeo copy spells it for the source' })
    .option('referrers', { type: 'boolean', default: true, describe: 'Carry cosign signatures/attestations/SBOMs and OCI referrers (--no-referrers to leave them out)' })
    .option('sbom-file', { type: 'string', array: true, describe: 'IMAGE=FILE: attach an SBOM you made (syft, trivy…) to an image of the bundle as an OCI 1.1 referrer. IMAGE is the --image as given or its bundle name (REPOSITORY[:TAG]); the format comes from the content: SPDX JSON or tag-value, CycloneDX JSON or XML, syft JSON; at most 64 MiB' })
    .option('cache', { type: 'string', describe: 'Content-addressed blob cache for registry sources: later runs (and a re-run after an interruption) reuse what it holds' })
    .option('with-loader', { type: 'string', describe: 'Carry the ferry-load executable(s) beside the volumes: --with-loader (linux-x64) or --with-loader=linux-x64,linux-arm64,win-x64 (from npm run build:loader); listed in the manifest and NAME.sha256' })
    .option('loader-dir', { type: 'string', describe: 'Where the ferry-load executables are (default: dist/loader/ of this checkout)' });
}

export async function main(args: string[] = hideBin(process.argv)): Promise<number> {
  return runCommands(PROGRAM, args, '$0 <command> [options]\n\nBuild signed, content-addressed, zstd-compressed bundles for carrying across an air gap.', (y, setCode) =>
    y
      .command(
        'keygen',
        'Make a signing key pair: PREFIX.key (PKCS#8, encrypted with a passphrase: asked twice on a terminal, or from --password-file / FERRY_KEY_PASSWORD_FILE / FERRY_KEY_PASSWORD) and PREFIX.pub',
        (y) =>
          y
            .option('out', { type: 'string', demandOption: true, describe: 'Path prefix for PREFIX.key and PREFIX.pub' })
            .option('password-file', { type: 'string', describe: 'Read the passphrase from the first line of FILE (or FERRY_KEY_PASSWORD_FILE); for cron and scripts' })
            .option('password', { type: 'boolean', default: true, describe: 'Encrypt the key with a passphrase; --no-password writes it unencrypted (as does FERRY_KEY_PASSWORD set to empty)' })
            .option('algorithm', { choices: ['ecdsa-p256', 'ed25519'], default: 'ecdsa-p256', describe: 'ECDSA P-256 (cosign-compatible, default) or Ed25519' })
            .option('force', { type: 'boolean', default: false, describe: 'Replace existing key files' })
            .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout (and no progress)' }),
        async (a) => {
          const k = a as unknown as KeygenArgs & { password: boolean };
          await keygen({ ...k, noPassword: k.password === false }, terminalPrompt());
        },
      )
      .command(DIFF_COMMAND.command, DIFF_COMMAND.describe, DIFF_COMMAND.builder, async (a) => {
        setCode(await diffCmd(a));
      })
      .command(
        'create [spec]',
        'Bundle images, Helm charts, files and public keys into signed volumes',
        (y) =>
          contentFlags(y
            .positional('spec', { type: 'string', describe: 'Spec file (YAML or JSON) listing what to carry; flags add to it' })
            .option('out', { type: 'string', describe: 'Directory to write the bundle into (default: current directory)' })
            .option('name', { type: 'string', describe: 'Bundle NAME: files are NAME.manifest.json, NAME-001.tar.zst, NAME.sha256…' }))
            .option('baseline', { type: 'string', array: true, describe: 'An earlier NAME.manifest.json (or an inventory of the target), or `last` (the newest bundle kept in --state-dir): blobs it says the high side holds are left out and listed as required (repeatable; a delta, format v4)' })
            .option('since', { type: 'string', describe: 'With --state-dir: every bundle kept there created at or after DATE (ISO 8601, e.g. 2026-11-01) is a baseline' })
            .option('state-dir', { type: 'string', describe: 'Directory where every successful create keeps a copy of its manifest (manifests/), for --baseline last and --since' })
            .option('baseline-key', { type: 'string', array: true, describe: 'Public key a signed baseline (FILE.sig beside it) must verify with' })
            .option('replace', { type: 'boolean', default: false, alias: 'force', describe: 'Rebuild a bundle of the same --name already in --out (the old one stays intact until the new one is complete)' })
            .option('keep-going', { type: 'boolean', default: false, describe: 'Bundle the images that succeed and list the failures (exit code 16)' })
            .option('json', { type: 'boolean', default: false, describe: 'Print a JSON report on stdout, no progress' })
            .option('report', { type: 'string', describe: 'Also write the JSON report (schemas/create-report.schema.json) to this file, for a run with failures too' })
            .example('$0 create --name weekly --key ferry.key --out /media/usb --image oci:./layout:app-1.0 --file docs/*.pdf --volume-size dvd', '')
            .example('$0 create bundle.yaml --key ferry.key --out out/', '')
            .example('$0 create --name app --key ferry.key --image reg.example/team/app:1.4 --sbom-file team/app:1.4=app.spdx.json', 'syft output, attached to the image as its OCI referrer'),
        async (a) => {
          setCode(await create(a as unknown as CreateArgv));
        },
      )
      .command(
        'sync [spec]',
        'The weekly cron run: bundle SPEC as a delta against the last bundle this state directory made, named NAME-YYYY-MM-DD, with a line per image and a JSON report',
        (y) =>
          contentFlags(y
            .positional('spec', { type: 'string', describe: 'Spec file (as for create); its name: is the prefix of every run\'s bundle name' })
            .option('state-dir', { type: 'string', demandOption: true, describe: 'What earlier runs sent (manifests/, reports/, a lock): the next delta is built against the newest; back it up with the key' })
            .option('out', { type: 'string', describe: 'Each run writes its bundle into OUT/NAME-YYYY-MM-DD/ (required)' })
            .option('name', { type: 'string', describe: 'Bundle name prefix instead of the spec\'s name:' }))
            .option('keep', { type: 'number', default: 8, describe: 'Keep the newest N manifests and reports in --state-dir' })
            .option('skip-if-unchanged', { type: 'boolean', default: false, describe: 'Nothing changed upstream since the last bundle: write nothing (exit 0) instead of a delta that carries no layers' })
            .option('full', { type: 'boolean', default: false, describe: 'Carry everything, ignoring the state directory\'s history (e.g. to re-seed a rebuilt high side)' })
            .option('keep-going', { type: 'boolean', default: true, describe: 'Bundle the images that work and list the failures (exit 16); --no-keep-going: the first failure stops the run and nothing is written' })
            .option('log', { type: 'string', describe: 'Append the run\'s lines (one ✅ Synced / ❌ Failed per image, timestamped) to FILE' })
            .option('report', { type: 'string', describe: 'Write the run report (schemas/sync-report.schema.json) to FILE' })
            .option('json', { type: 'boolean', default: false, describe: 'Print the run report on stdout, no progress' })
            .example('$0 sync /etc/ferry/sync.yaml --state-dir /var/lib/ferry/state --out /srv/ferry/outgoing --key /etc/ferry/ferry.key --password-file /etc/ferry/pass --log /var/log/ferry-sync.log', 'from cron: see examples/sync/'),
        async (a) => {
          setCode(await syncCmd(a as unknown as SyncArgv));
        },
      )
      .command(
        'plan-media <path>',
        'Which files go on which disc: every disc gets NAME.sha256, NAME.sha256.sig, NAME.manifest.json and NAME.manifest.json.sig beside its volumes, so each one checks on its own',
        (y) =>
          y
            .positional('path', { type: 'string', demandOption: true, describe: 'The bundle directory, or its NAME.sha256' })
            .option('media-size', { type: 'string', demandOption: true, describe: 'What one disc or stick holds: dvd, dvd-dl, bd25, bd50, or a size (4.7G, 25G, 32GiB); 8 MiB of each (1% of a small one) is kept for the filesystem' })
            .option('json', { type: 'boolean', default: false })
            .example('$0 plan-media out/ --media-size dvd', ''),
        async (a) => {
          setCode(await planMediaCmd(a as unknown as { path: string; mediaSize: string; json: boolean }));
        },
      ),
    'Give a command: keygen, create, sync or plan-media',
    { version: FERRY_VERSION, formats: FORMAT_VERSIONS },
  );
}
