import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redact, registryError } from '../../src/registry/errors.js';

test('registry errors hide userinfo in any URL or reference they quote (a realm, a Location, a typed reference)', () => {
  const e = registryError('REGISTRY_AUTH', { registry: 'registry.example.com', repository: 'team/app', reference: '1' }, 'token server https://bob:hunter22@auth.example.com/token refused; redirected to https://u:pw9@cdn.example.com/blob');
  assert.not.match(e.message, /hunter22|pw9|bob/);
  assert.match(e.message, /https:\/\/\*\*\*@auth\.example\.com\/token/);
  assert.is(e.details.reference, 'registry.example.com/team/app:1');
  assert.is(redact('Authorization: Basic YWxpY2U6czNjcjN0'), 'Authorization: Basic ***');
  assert.is(redact(`pulled registry.example.com/team/app@sha256:${'a'.repeat(64)}`), `pulled registry.example.com/team/app@sha256:${'a'.repeat(64)}`);
});

test.run();
