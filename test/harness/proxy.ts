// A TCP proxy in front of a real (plain HTTP) registry that injects faults into the response
// of a chosen request: cut the connection after N response bytes, rewrite bytes, or answer
// with a canned status once. It watches the request line of each HTTP/1.1 request going up,
// so it works with keep-alive connections (one request in flight per connection).

import { createServer, connect, type Socket, type Server } from 'node:net';

export interface Fault {
  /** Matched against the request line, e.g. /^GET \/v2\/.*\/blobs\//. */
  match: RegExp;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Destroy both sockets after this many response bytes (headers included) went down. */
  cutAfterBytes?: number;
  /** Replace the first occurrence of `find` with `replace` (same length) in the response. */
  rewrite?: { find: string; replace: string };
  /** Answer with this raw status instead of forwarding (the request never reaches the registry). */
  status?: { code: number; headers?: Record<string, string>; body?: string };
  /** Run (and wait for) this before the request is forwarded, e.g. kill the registry so that it
   *  dies exactly before seeing it. */
  before?: () => unknown;
}

export interface Proxy {
  host: string;
  url: string;
  /** Request lines seen, in order. */
  requests: string[];
  /** Request line + headers of each request, in order. */
  heads: string[];
  arm(f: Fault): void;
  stop(): Promise<void>;
}

interface Armed extends Fault { left: number }

export async function startProxy(target: string): Promise<Proxy> {
  const [thost, tport] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const faults: Armed[] = [];
  const requests: string[] = [];
  const heads: string[] = [];
  const sockets = new Set<Socket>();

  const server: Server = createServer((down) => {
    sockets.add(down);
    const up = connect(tport, thost);
    sockets.add(up);
    let active: Armed | undefined; // fault for the response now flowing down
    let sent = 0;
    let rewritten = false;
    const close = () => { down.destroy(); up.destroy(); };
    down.on('close', () => { sockets.delete(down); up.destroy(); });
    up.on('close', () => { sockets.delete(up); down.destroy(); });
    down.on('error', close);
    up.on('error', close);

    down.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      const m = /^(GET|HEAD|POST|PUT|PATCH|DELETE) [^\r\n]+/.exec(text); // request lines start a chunk (node writes headers in one go)
      if (m) {
        requests.push(m[0]);
        const end = text.indexOf('\r\n\r\n');
        heads.push(end >= 0 ? text.slice(0, end) : text);
        active = undefined;
        sent = 0;
        rewritten = false;
        const f = faults.find((x) => x.left > 0 && x.match.test(m[0]));
        if (f) {
          f.left--;
          if (f.status) {
            const body = f.status.body ?? '';
            const headers = { 'Content-Length': String(Buffer.byteLength(body)), 'Content-Type': 'application/json', ...f.status.headers };
            down.write(`HTTP/1.1 ${f.status.code} Injected\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
            return; // swallowed: the registry never sees this request
          }
          active = f;
          if (f.before) {
            const run = f.before;
            down.pause(); // nothing more of this request goes up until the hook is done
            void Promise.resolve(run()).then(() => {
              up.write(chunk);
              down.resume();
            }, close);
            return;
          }
        }
      }
      up.write(chunk);
    });

    up.on('data', (chunk: Buffer) => {
      let out = chunk;
      if (active?.rewrite && !rewritten) {
        const i = out.indexOf(active.rewrite.find, 0, 'latin1');
        if (i >= 0) {
          out = Buffer.from(out);
          out.write(active.rewrite.replace, i, 'latin1');
          rewritten = true;
        }
      }
      if (active?.cutAfterBytes !== undefined) {
        const room = active.cutAfterBytes - sent;
        if (out.length >= room) {
          down.write(out.subarray(0, Math.max(0, room)), () => close());
          active = undefined;
          return;
        }
      }
      sent += out.length;
      down.write(out);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    heads,
    arm(f) { faults.push({ ...f, left: f.times ?? 1 }); },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
