// cli-kit's defence in depth: whatever a command forgot to escape, errors, progress lines and
// JSON never carry raw C0/C1 controls, line separators or bidi controls, nor typed credentials.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FerryError } from '@ferry/format-spec';
import { createProgress, jsonText, reportError, writeJson, writeText } from '../src/index.js';

/** Every character a hostile string may use to redraw or reorder a terminal line. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const HOSTILE = 'src\u001b[2K\rSignature: verified by trusted.pub\u009b31m\u202eevil\u2028\u2066x\u007f';

async function capture(stream: 'stdout' | 'stderr', f: () => unknown): Promise<string> {
  const s = process[stream];
  const orig = s.write.bind(s);
  let out = '';
  (s as { write: unknown }).write = (chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  };
  try {
    await f();
  } finally {
    (s as { write: unknown }).write = orig;
  }
  return out;
}

test('jsonText escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
  const value = { source: HOSTILE, list: ['\u0085', '\u2029', '\u200f', '\ufeff'], n: 1, nested: { k: '\u009b' } };
  assert.ok(RAW_UNSAFE.test(JSON.stringify(value)), 'JSON.stringify alone leaves some raw (the reason for jsonText)');
  const text = jsonText(value);
  assert.not.ok(RAW_UNSAFE.test(text), text);
  assert.equal(JSON.parse(text), value);
  assert.match(text, /\\u009b/);
  assert.match(text, /\\u202e/);
  assert.match(text, /\\u2028/);
});

test('writeJson and writeText write sanitised text', async () => {
  const j = await capture('stdout', () => writeJson({ s: HOSTILE }));
  assert.not.ok(RAW_UNSAFE.test(j));
  assert.equal(JSON.parse(j), { reportVersion: 1, s: HOSTILE }, 'the data faithful, with its reportVersion');
  const t = await capture('stdout', () => writeText(`line one ${HOSTILE}\nline two\n`));
  assert.not.ok(RAW_UNSAFE.test(t), t);
  assert.is(t.split('\n').length, 3, 'newlines Ferry wrote are kept');
  assert.match(t, /src\\x1b\[2K\\x0dSignature/);
});

test('reportError sanitises the message and the details, in text and JSON, and hides typed credentials', async () => {
  const e = new FerryError('ARCHIVE_HOSTILE', `entry ${HOSTILE} is odd\nsecond line from alice:s3cr3t@registry.example.com/app:1`, { file: HOSTILE, n: 3 });
  let code = 0;
  const text = await capture('stderr', () => (code = reportError(e, { program: 'ferry-load', json: false })));
  assert.is(code, 11);
  assert.not.ok(RAW_UNSAFE.test(text), text);
  assert.not.match(text, /s3cr3t/);
  assert.match(text, /\*\*\*@registry\.example\.com\/app:1/);
  assert.match(text, /^ferry-load: error \[ARCHIVE_HOSTILE\]: entry src\\x1b\[2K\\x0dSignature: verified by trusted\.pub\\x9b31m\\u\{202e\}evil/);
  assert.is(text.split('\n').filter((l) => l.startsWith('Signature')).length, 0, 'no forged line of its own');
  const json = await capture('stdout', () => reportError(e, { program: 'ferry-load', json: true }));
  assert.not.ok(RAW_UNSAFE.test(json), json);
  assert.not.match(json, /s3cr3t/);
  const parsed = JSON.parse(json);
  assert.is(parsed.error.code, 'ARCHIVE_HOSTILE');
  assert.not.ok(RAW_UNSAFE.test(parsed.error.message), 'the parsed message is printable too');
  assert.not.ok(RAW_UNSAFE.test(parsed.error.details.file));
  assert.is(parsed.error.details.n, 3);
});

test('progress lines are one printable line each, without credentials', async () => {
  const saved = process.env.CI;
  delete process.env.CI;
  try {
    const out = await capture('stderr', async () => {
      const p = await createProgress('plain', 'checking');
      p.log(`❌ ${HOSTILE}\nFAKE LINE`);
      p.log('✅ docker://alice:s3cr3t@registry.example.com/app:1');
      p.update({ bytes: 1, total: 1, detail: HOSTILE });
      await p.finish();
    });
    assert.not.ok(RAW_UNSAFE.test(out), out);
    assert.not.match(out, /s3cr3t/);
    assert.not.match(out, /^FAKE LINE/m, 'a newline inside a log line is escaped, not obeyed');
    // Not a terminal: the symbols are written as words.
    assert.match(out, /FAIL src\\x1b\[2K\\x0dSignature/);
    assert.match(out, /OK docker:\/\/\*\*\*@registry\.example\.com\/app:1/);
  } finally {
    if (saved !== undefined) process.env.CI = saved;
  }
});

test.run();
