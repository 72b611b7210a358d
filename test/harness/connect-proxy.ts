// A small corporate-style HTTP proxy for tests (plain node:http, its own free port): CONNECT
// tunnels for https targets and absolute-URI forwarding for http targets, optional Basic proxy
// auth (407 otherwise). It records everything it received in the clear — CONNECT lines, request
// lines and headers — and the raw bytes that went up through each tunnel, so a test can assert
// what went through it and that a secret never reached it readable.

import http, { type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface SeenRequest {
  /** `CONNECT host:port` or `GET http://host/path` (the request line without the version). */
  line: string;
  headers: IncomingHttpHeaders;
}

export interface ConnectProxy {
  /** http://127.0.0.1:PORT (no credentials). */
  url: string;
  port: number;
  /** Every CONNECT and forwarded request, in order, with its headers. */
  seen: SeenRequest[];
  /** CONNECT requests only. */
  connects(): SeenRequest[];
  /** Forwarded (absolute-URI) requests only. */
  forwarded(): SeenRequest[];
  /** Every byte the proxy received from clients: heads as text plus the tunnels' raw bytes. */
  received(): Buffer;
  /** Requests refused with 407. */
  refused: number;
  reset(): void;
  stop(): Promise<void>;
}

export async function startConnectProxy(opts: { auth?: { user: string; password: string } } = {}): Promise<ConnectProxy> {
  const seen: SeenRequest[] = [];
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  let refused = 0;
  const expected = opts.auth ? `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}` : undefined;
  const record = (line: string, headers: IncomingHttpHeaders): void => {
    seen.push({ line, headers });
    chunks.push(Buffer.from(`${line}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${String(v)}`).join('\r\n')}\r\n\r\n`, 'latin1'));
  };
  const authorised = (headers: IncomingHttpHeaders): boolean => !expected || headers['proxy-authorization'] === expected;

  const server = http.createServer((req, res) => {
    record(`${req.method} ${req.url}`, req.headers);
    if (!authorised(req.headers)) {
      refused++;
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="test-proxy"', 'Content-Length': '0' }).end();
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
      if (target.protocol !== 'http:') throw new Error('not http');
    } catch {
      res.writeHead(400, { 'Content-Length': '0' }).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    req.on('data', (c: Buffer) => chunks.push(c));
    const up = http.request({ host: target.hostname, port: Number(target.port || 80), method: req.method, path: `${target.pathname}${target.search}`, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502, { 'Content-Length': '0' }); res.end(); });
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    record(`CONNECT ${req.url}`, req.headers);
    if (!authorised(req.headers)) {
      refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test-proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(req.url!.slice(req.url!.lastIndexOf(':') + 1))];
    const up = connect(port, host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) { chunks.push(head); up.write(head); }
      client.on('data', (c: Buffer) => chunks.push(c));
      client.pipe(up);
      up.pipe(client);
    });
    sockets.add(up);
    up.on('close', () => { sockets.delete(up); client.destroy(); });
    client.on('close', () => up.destroy());
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    connects: () => seen.filter((r) => r.line.startsWith('CONNECT ')),
    forwarded: () => seen.filter((r) => !r.line.startsWith('CONNECT ')),
    received: () => Buffer.concat(chunks),
    get refused() { return refused; },
    reset() { seen.length = 0; chunks.length = 0; refused = 0; },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
