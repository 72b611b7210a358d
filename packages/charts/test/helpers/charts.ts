// Test charts: a raw ustar writer that can write anything (hostile names, links, devices, sizes
// that lie), gzip helpers, and small realistic charts.
import { gzipSync } from 'node:zlib';

export interface RawEntry {
  name: string;
  data?: Buffer | string;
  /** Typeflag character; default '0' (regular file). */
  type?: string;
  /** Size written in the header (default: the data length). */
  size?: number;
  linkname?: string;
  mode?: number;
  prefix?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  h.write(e.name, 0, 100, 'utf8');
  h.write(octal(e.mode ?? 0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(e.size ?? data.length, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  if (e.prefix) h.write(e.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

/** A tar of `entries` (end-of-archive blocks unless `end: false`). */
export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(tarHeader(e), data, pad(data.length));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gz(b: Buffer): Buffer {
  return gzipSync(b, { level: 1 });
}

/** A .tgz holding `files` under `top/`. */
export function chartTgz(files: Record<string, string | Buffer>, top = 'mychart'): Buffer {
  return gz(rawTar(Object.entries(files).map(([name, data]) => ({ name: `${top}/${name}`, data }))));
}

export function chartYaml(name = 'mychart', version = '1.0.0', extra = ''): string {
  return `apiVersion: v2\nname: ${name}\nversion: ${version}\n${extra}`;
}

/** A small chart as `helm create` lays one out, bitnami-style image values. */
export function realisticChart(name = 'mychart', version = '1.0.0'): Record<string, string> {
  return {
    'Chart.yaml': chartYaml(name, version, 'appVersion: "7.2.4"\ndescription: A test chart\ntype: application\n'),
    'values.yaml': [
      'replicaCount: 1',
      'image:',
      '  registry: docker.io',
      '  repository: bitnami/redis',
      '  tag: 7.2.4-debian-12-r0',
      '  pullPolicy: IfNotPresent',
      'service:',
      '  port: 6379',
      '',
    ].join('\n'),
    'templates/deployment.yaml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      '        - name: main',
      '          image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
      '        - name: sidecar',
      '          image: docker.io/library/busybox:1.36',
      '',
    ].join('\n'),
  };
}
