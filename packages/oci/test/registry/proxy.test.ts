import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bypassesProxy, proxyRoute, proxySettingsFromEnv } from '../../src/registry/proxy.js';
import { isFerryError } from '@ferry/format-spec';

const u = (s: string) => new URL(s);

test('HTTPS_PROXY for https targets, HTTP_PROXY for http targets; lower case wins; no scheme means http://', () => {
  const s = proxySettingsFromEnv({ HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', HTTP_PROXY: 'plain:8080' });
  assert.is(s.https?.host, 'lower:3128');
  assert.is(s.http?.href, 'http://plain:8080/');
  assert.is(proxyRoute(u('https://reg.example.com/v2/'), s)?.proxy.host, 'lower:3128');
  assert.is(proxyRoute(u('http://reg.example.com/v2/'), s)?.proxy.host, 'plain:8080');
  const none = proxySettingsFromEnv({});
  assert.is(proxyRoute(u('https://reg.example.com/'), none), undefined);
  // Only HTTP_PROXY set: https traffic goes direct (curl's rule).
  assert.is(proxyRoute(u('https://reg.example.com/'), proxySettingsFromEnv({ HTTP_PROXY: 'http://p:1' })), undefined);
});

test('proxy credentials become Proxy-Authorization; the label never shows them', () => {
  const s = proxySettingsFromEnv({ HTTPS_PROXY: 'http://proxy%20user:p%40ss@proxy.corp:3128' });
  const r = proxyRoute(u('https://reg/'), s)!;
  assert.is(r.authorization, `Basic ${Buffer.from('proxy user:p@ss').toString('base64')}`);
  assert.is(r.label, 'proxy.corp:3128');
  assert.is(proxyRoute(u('https://reg/'), proxySettingsFromEnv({ HTTPS_PROXY: 'http://proxy.corp:3128' }))!.authorization, undefined);
});

test('a bad proxy URL is a USAGE error naming the variable, not its value', () => {
  for (const v of ['http://user:secret@[bad', 'socks5://user:secret@proxy:1080']) {
    try {
      proxySettingsFromEnv({ HTTPS_PROXY: v });
      assert.unreachable(v);
    } catch (e) {
      assert.ok(isFerryError(e, 'USAGE'), String(e));
      assert.match((e as Error).message, /HTTPS_PROXY/);
      assert.not.match((e as Error).message, /secret/);
    }
  }
});

test('NO_PROXY: *, host, .domain, domain, host:port, IP literals; comma or space separated', () => {
  const np = (v: string) => proxySettingsFromEnv({ NO_PROXY: v }).noProxy;
  assert.ok(bypassesProxy(u('https://anything/'), np('*')));
  assert.ok(bypassesProxy(u('https://reg.local/'), np('other, reg.local')));
  assert.ok(bypassesProxy(u('https://REG.local/'), np('reg.LOCAL')));
  assert.not.ok(bypassesProxy(u('https://xreg.local/'), np('reg.local')));
  assert.ok(bypassesProxy(u('https://a.b.corp.example/'), np('.corp.example')));
  assert.ok(bypassesProxy(u('https://corp.example/'), np('.corp.example')));
  assert.ok(bypassesProxy(u('https://a.corp.example/'), np('corp.example')));
  assert.ok(bypassesProxy(u('https://a.corp.example/'), np('*.corp.example')));
  assert.not.ok(bypassesProxy(u('https://notcorp.example/'), np('corp.example')));
  assert.ok(bypassesProxy(u('http://reg:5000/'), np('reg:5000')));
  assert.not.ok(bypassesProxy(u('http://reg:5001/'), np('reg:5000')));
  assert.ok(bypassesProxy(u('https://reg/'), np('reg:443')), 'the scheme default port');
  assert.ok(bypassesProxy(u('http://127.0.0.1:5000/'), np('localhost 127.0.0.1')));
  assert.not.ok(bypassesProxy(u('http://127.0.0.10:5000/'), np('127.0.0.1')), 'an IP matches exactly');
  assert.ok(bypassesProxy(u('http://[::1]:5000/'), np('::1')));
  assert.ok(bypassesProxy(u('http://[::1]:5000/'), np('[::1]:5000')));
  assert.not.ok(bypassesProxy(u('http://[::1]:5001/'), np('[::1]:5000')));
  // Loopback is not special (curl, undici): without NO_PROXY it goes through the proxy.
  assert.ok(proxyRoute(u('http://127.0.0.1:5000/'), proxySettingsFromEnv({ HTTP_PROXY: 'http://p:1' })));
  assert.is(proxyRoute(u('http://127.0.0.1:5000/'), proxySettingsFromEnv({ HTTP_PROXY: 'http://p:1', no_proxy: '127.0.0.1' })), undefined);
});

test.run();
