// Helm's repositories.yaml (`helm repo add` writes it; pkg/repo/repo.go File, chartrepo.go
// Entry): where credentials, CA files and TLS settings for a chart repository come from when
// the operator already uses Helm, and how `--chart NAME/CHART@VERSION` names a repository by
// its Helm name. The file holds secrets: its content is never echoed in an error, and every
// password read is registered for redaction.

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FerryError, printable } from '@ferry/format-spec';
import { registerSecret } from '@ferry/oci';
import type { ChartHttpOptions } from './http.js';

/** One `repositories[]` entry. */
export interface HelmRepositoryEntry {
  name: string;
  url: string;
  username?: string;
  password?: string;
  caFile?: string;
  /** Client certificate (mutual TLS); not supported by Ferry, reported as a note. */
  certFile?: string;
  keyFile?: string;
  insecure_skip_tls_verify: boolean;
  pass_credentials_all: boolean;
}

export interface HelmRepositories {
  /** The file read (or that would have been read: a missing default file is no repositories). */
  file: string;
  entries: HelmRepositoryEntry[];
  notes: string[];
}

/**
 * Helm's default: `$HELM_REPOSITORY_CONFIG`, else `<helm config home>/repositories.yaml` with the
 * config home `$HELM_CONFIG_HOME`, else `$XDG_CONFIG_HOME/helm`, else `~/.config/helm` (Linux).
 */
export function defaultRepositoryConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HELM_REPOSITORY_CONFIG) return env.HELM_REPOSITORY_CONFIG;
  const home = env.HELM_CONFIG_HOME || join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'helm');
  return join(home, 'repositories.yaml');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Parse the file's text; `where` names it in messages. Entries without a name or URL are skipped with a note. */
export function parseHelmRepositories(text: string, where: string, notes: string[] = []): HelmRepositoryEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    // Never quote the content: it holds passwords.
    throw new FerryError('CHART_REPO_ERROR', `Helm repository config ${where} is not valid YAML (${(e as Error).name})`, { file: where });
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FerryError('CHART_REPO_ERROR', `Helm repository config ${where} is not a YAML mapping`, { file: where });
  }
  const list = (doc as { repositories?: unknown }).repositories;
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new FerryError('CHART_REPO_ERROR', `Helm repository config ${where}: "repositories" is not a list`, { file: where });
  const out: HelmRepositoryEntry[] = [];
  list.forEach((raw: unknown, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      notes.push(`${where}: repositories[${i}] is not a mapping; skipped`);
      return;
    }
    const r = raw as Record<string, unknown>;
    const name = str(r.name);
    const url = str(r.url);
    if (!name || !url) {
      notes.push(`${where}: repositories[${i}] has no ${name ? 'url' : 'name'}; skipped`);
      return;
    }
    const e: HelmRepositoryEntry = {
      name,
      url,
      insecure_skip_tls_verify: r.insecure_skip_tls_verify === true,
      pass_credentials_all: r.pass_credentials_all === true,
    };
    const username = str(r.username);
    const password = typeof r.password === 'string' ? r.password : undefined;
    if (username !== undefined) e.username = username;
    if (password !== undefined) {
      e.password = password;
      registerSecret(password);
    }
    for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
      const v = str(r[k]);
      if (v !== undefined) e[k] = v;
    }
    out.push(e);
  });
  return out;
}

/**
 * Read `file` (--repository-config), else Helm's default location. An explicitly named file
 * that is missing is an error; a missing default file means no repositories.
 */
export async function readHelmRepositories(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<HelmRepositories> {
  const explicit = file !== undefined || env.HELM_REPOSITORY_CONFIG !== undefined;
  const path = file ?? defaultRepositoryConfigPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return { file: path, entries: [], notes: [] };
    throw new FerryError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'CHART_REPO_ERROR', `cannot read Helm repository config ${path}: ${code ?? (e as Error).message}`, { file: path });
  }
  const notes: string[] = [];
  const entries = parseHelmRepositories(text, path, notes);
  return { file: path, entries, notes };
}

/** URLs compared as Helm users write them: trailing slashes do not matter, nor the case of scheme and host. */
export function sameRepoUrl(a: string, b: string): boolean {
  const norm = (s: string): string => {
    try {
      const u = new URL(s);
      u.username = '';
      u.password = '';
      u.hash = '';
      return u.href.replace(/\/+(\?|$)/, '$1');
    } catch {
      return s.replace(/\/+$/, '');
    }
  };
  return norm(a) === norm(b);
}

export function findRepositoryByUrl(repos: HelmRepositories | HelmRepositoryEntry[], url: string): HelmRepositoryEntry | undefined {
  const list = Array.isArray(repos) ? repos : repos.entries;
  return list.find((r) => sameRepoUrl(r.url, url));
}

export function findRepositoryByName(repos: HelmRepositories | HelmRepositoryEntry[], name: string): HelmRepositoryEntry | undefined {
  const list = Array.isArray(repos) ? repos : repos.entries;
  return list.find((r) => r.name === name);
}

/**
 * ChartHttp options for a repository: the entry's credentials, CA file and TLS settings on top
 * of `base`. Explicit credentials in `base` (--creds) win over the file, as Helm's
 * --username/--password win over a repository entry.
 */
export function chartHttpOptionsFor(entry: HelmRepositoryEntry | undefined, base: ChartHttpOptions, file = 'repositories.yaml', notes?: string[]): ChartHttpOptions {
  if (!entry) return base;
  const out: ChartHttpOptions = { ...base };
  if (out.creds === undefined && out.bearerToken === undefined && entry.username !== undefined) {
    out.creds = `${entry.username}:${entry.password ?? ''}`;
    out.credsSource = `${file} (repository "${printable(entry.name)}")`;
  }
  if (entry.caFile) out.caFile = [...(base.caFile === undefined ? [] : Array.isArray(base.caFile) ? base.caFile : [base.caFile]), entry.caFile];
  if (entry.insecure_skip_tls_verify) out.insecureSkipTlsVerify = true;
  if (entry.pass_credentials_all) out.passCredentialsAll = true;
  if ((entry.certFile || entry.keyFile) && notes) {
    notes.push(`${file}: repository "${printable(entry.name)}" names a client certificate (certFile/keyFile); Ferry does not send client certificates`);
  }
  return out;
}

/** `NAME/CHART@VERSION` with NAME a Helm repository name: the repository's URL and settings. */
export function resolveRepoName(spec: { repoName: string; name: string; version?: string }, repos: HelmRepositories): { repo: string; name: string; version?: string; entry: HelmRepositoryEntry } {
  const entry = findRepositoryByName(repos, spec.repoName);
  if (!entry) {
    const known = repos.entries.map((r) => r.name).slice(0, 10);
    throw new FerryError('SOURCE_NOT_FOUND',
      `no Helm repository named "${printable(spec.repoName)}" in ${repos.file}${known.length ? ` (it has: ${known.map(printable).join(', ')})` : ' (it has none)'}; add it with helm repo add, or give the repository URL: https://HOST/PATH/${printable(spec.name)}${spec.version ? `@${printable(spec.version)}` : ''}`,
      { file: repos.file, repository: printable(spec.repoName) });
  }
  return { repo: entry.url, name: spec.name, ...(spec.version !== undefined ? { version: spec.version } : {}), entry };
}
