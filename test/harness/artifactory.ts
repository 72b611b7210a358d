// An in-process stand-in for Artifactory's deploy endpoints, the one component of the chart
// tests that is not a real program (no Artifactory package can be had here). It implements only
// what JFrog documents, and records every request so tests can assert the order and the headers
// a sink sent:
//
//   PUT  /artifactory/<repo>/<path>   Deploy Artifact
//        https://jfrog.com/help/r/jfrog-rest-apis/deploy-artifact
//        201 + ItemCreated JSON {repo, path, downloadUri, checksums{sha1, md5, sha256}…}.
//        Optional X-Checksum-Sha1 / X-Checksum-Sha256 (and X-Checksum, type by length): "Artifactory
//        rejects the deployment if the checksums do not match". The status is 409 with
//        {"errors":[{"status":409,"message":"Checksum policy 'LocalRepoChecksumPolicy: CLIENT'
//        rejected the artifact …"}]}, as real servers answer (jfrog.com knowledge base "What are
//        Client Checksum, Server Checksum, and Checksum Policy in local repositories?": "will
//        return a 409 (conflict) error"; server logs quoted in jfrog/artifactory-client-java#367 and
//        conan-io/conan#12396). 409 is also the documented "Duplicate/Conflict".
//   PUT  … with X-Checksum-Deploy: true   Deploy Artifact by Checksum
//        https://jfrog.com/help/r/jfrog-rest-apis/deploy-artifact-by-checksum
//        No body needed; 201 if content with that checksum exists anywhere here (copied to the
//        new path), else 404 "to indicate that content upload is expected".
//   GET|HEAD /artifactory/<repo>/<path>   the stored bytes.
//   POST /artifactory/api/helm/<repo>/reindex   "Calculate Helm Chart Index" (the recorder keeps
//        no index; it answers 200 and records the call).
// Auth: Basic (user/password) or `Authorization: Bearer <token>` (an access token); anything else
// is 401 with `WWW-Authenticate: Basic realm="Artifactory Realm"`.

import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface ArtifactoryOptions {
  /** Basic auth user. Without basicAuth and token, anonymous deploys are allowed. */
  basicAuth?: { user: string; password: string };
  /** Access token accepted as `Authorization: Bearer <token>`. */
  token?: string;
  /** Refuse a PUT over an existing path with 409 (a user without overwrite permission). Default: overwrite. */
  noOverwrite?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path as requested, without the query. */
  path: string;
  query: string;
  /** Lower-case header names; an Authorization value is reduced to its scheme ("Basic", "Bearer"). */
  headers: Record<string, string>;
  /** Bytes of the body received. */
  bodyBytes: number;
  status: number;
}

export interface StoredArtifact {
  repo: string;
  path: string;
  bytes: Buffer;
  sha1: string;
  sha256: string;
  md5: string;
}

export interface StartedArtifactory {
  /** http://127.0.0.1:PORT/artifactory (the base a client is configured with). */
  url: string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** Stored files by `<repo>/<path>`. */
  files: Map<string, StoredArtifact>;
  /** The repo keys that got a reindex POST, in order. */
  reindexed: string[];
  stop(): Promise<void>;
}

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

function sums(b: Buffer) {
  return { sha1: hex('sha1', b), sha256: hex('sha256', b), md5: hex('md5', b) };
}

export async function startArtifactory(opts: ArtifactoryOptions = {}): Promise<StartedArtifactory> {
  const requests: RecordedRequest[] = [];
  const files = new Map<string, StoredArtifact>();
  const reindexed: string[] = [];
  let base = '';

  const authorized = (h: string | undefined): boolean => {
    if (!opts.basicAuth && opts.token === undefined) return true;
    if (!h) return false;
    const [scheme, value = ''] = h.split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'basic' && opts.basicAuth) {
      const dec = Buffer.from(value, 'base64').toString('utf8');
      return dec === `${opts.basicAuth.user}:${opts.basicAuth.password}`;
    }
    return scheme?.toLowerCase() === 'bearer' && opts.token !== undefined && value === opts.token;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://x');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined) continue;
        const s = Array.isArray(v) ? v.join(', ') : v;
        headers[k] = k === 'authorization' ? (s.split(/\s+/)[0] ?? '') : s;
      }
      const rec: RecordedRequest = { method: req.method ?? '', path: u.pathname, query: u.search, headers, bodyBytes: body.length, status: 0 };
      requests.push(rec);
      const send = (status: number, payload: unknown, extra: Record<string, string> = {}) => {
        rec.status = status;
        const text = typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2);
        res.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json', ...extra });
        res.end(req.method === 'HEAD' ? undefined : text);
      };
      const error = (status: number, message: string, extra: Record<string, string> = {}) =>
        send(status, { errors: [{ status, message }] }, extra);

      if (!authorized(req.headers.authorization)) {
        error(401, 'Bad credentials', { 'www-authenticate': 'Basic realm="Artifactory Realm"' });
        return;
      }
      const reindex = /^\/artifactory\/api\/helm\/([^/]+)\/reindex$/.exec(u.pathname);
      if (reindex) {
        if (req.method !== 'POST') { error(405, 'Method Not Allowed'); return; }
        reindexed.push(decodeURIComponent(reindex[1]!));
        send(200, `Helm index calculation for repository '${decodeURIComponent(reindex[1]!)}' was scheduled`);
        return;
      }
      const m = /^\/artifactory\/([^/]+)\/(.+)$/.exec(u.pathname);
      if (!m || m[1] === 'api') { error(404, 'Not Found'); return; }
      const repo = decodeURIComponent(m[1]!);
      const path = decodeURIComponent(m[2]!);
      const key = `${repo}/${path}`;

      if (req.method === 'GET' || req.method === 'HEAD') {
        const f = files.get(key);
        if (!f) { error(404, 'File not found.'); return; }
        rec.status = 200;
        res.writeHead(200, {
          'content-type': 'application/octet-stream', 'content-length': String(f.bytes.length),
          'x-checksum-sha1': f.sha1, 'x-checksum-sha256': f.sha256, 'x-checksum-md5': f.md5,
        });
        res.end(req.method === 'HEAD' ? undefined : f.bytes);
        return;
      }
      if (req.method !== 'PUT') { error(405, 'Method Not Allowed'); return; }

      // Client checksums: the named headers, and X-Checksum whose type is its length.
      const want: { sha1?: string; sha256?: string; md5?: string } = {};
      const h1 = req.headers['x-checksum-sha1'];
      const h256 = req.headers['x-checksum-sha256'];
      const hAny = req.headers['x-checksum'];
      if (typeof h1 === 'string') want.sha1 = h1.toLowerCase();
      if (typeof h256 === 'string') want.sha256 = h256.toLowerCase();
      if (typeof hAny === 'string') {
        const v = hAny.toLowerCase();
        if (v.length === 32) want.md5 = v;
        else if (v.length === 40) want.sha1 = v;
        else if (v.length === 64) want.sha256 = v;
      }
      if (files.has(key) && opts.noOverwrite) { error(409, `Failed to deploy file: '${key}': overwrite is not permitted`); return; }
      const item = (f: StoredArtifact) => ({
        repo: f.repo, path: `/${f.path}`, created: new Date().toISOString(), createdBy: opts.basicAuth?.user ?? 'token',
        downloadUri: `${base}/${f.repo}/${f.path}`, uri: `${base}/${f.repo}/${f.path}`,
        mimeType: 'application/octet-stream', size: String(f.bytes.length),
        checksums: { sha1: f.sha1, md5: f.md5, sha256: f.sha256 },
        originalChecksums: { ...(want.sha1 ? { sha1: want.sha1 } : {}), ...(want.md5 ? { md5: want.md5 } : {}), ...(want.sha256 ? { sha256: want.sha256 } : {}) },
      });

      if (String(req.headers['x-checksum-deploy']).toLowerCase() === 'true') {
        if (!want.sha1 && !want.sha256 && !want.md5) { error(400, 'Checksum deploy requires a checksum header'); return; }
        const known = [...files.values()].find((f) =>
          (!want.sha256 || f.sha256 === want.sha256) && (!want.sha1 || f.sha1 === want.sha1) && (!want.md5 || f.md5 === want.md5));
        if (!known) { error(404, `Checksum deploy failed: no existing content with the given checksum for '${key}'`); return; }
        const copy: StoredArtifact = { ...known, repo, path };
        files.set(key, copy);
        send(201, item(copy));
        return;
      }

      const got = sums(body);
      const mismatch = (['sha1', 'sha256', 'md5'] as const).filter((a) => want[a] !== undefined && want[a] !== got[a]);
      if (mismatch.length) {
        const info = mismatch.map((a) => `${a}: original='${want[a]}', actual='${got[a]}'`).join('; ');
        error(409, `Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact '${key}'. Checksums info: ${info}`);
        return;
      }
      const f: StoredArtifact = { repo, path, bytes: body, ...got };
      files.set(key, f);
      send(201, item(f));
    });
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', bad);
    server.listen(0, '127.0.0.1', () => ok());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/artifactory`;
  let stopped = false;
  return {
    url: base, requests, files, reindexed,
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
