// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI
// (the same commands tooling.md §1c runs), so TLS tests use certificates no client trusts
// unless told to.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const run = promisify(execFile);

export interface TestCerts {
  dir: string;
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

/** Write ca.crt, ca.key, server.crt, server.key into `dir`. EC P-256 keys: fast to make. */
export async function makeCerts(dir: string, cn = 'ferry-test-ca'): Promise<TestCerts> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '30', '-subj', `/CN=${cn}`, '-keyout', p('ca.key'), '-out', p('ca.crt'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', p('server.key'), '-out', p('server.csr')]);
  await writeFile(p('server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-days', '30', '-sha256', '-extfile', p('server.ext'), '-out', p('server.crt')]);
  return { dir, caFile: p('ca.crt'), caKeyFile: p('ca.key'), certFile: p('server.crt'), keyFile: p('server.key') };
}

/** A self-signed certificate + key (e.g. a token issuer's signing cert); returns PEM paths. */
export async function makeSelfSigned(dir: string, name: string): Promise<{ certFile: string; keyFile: string }> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256',
    '-days', '30', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certFile]);
  return { certFile, keyFile };
}
