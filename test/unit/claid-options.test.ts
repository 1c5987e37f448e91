/** claid's flags: --operations/--output checked before any request (exit 2 naming the bad key), the fingerprint, error texts. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { providerOptionsFrom } from '../../src/cli/commands/upload.js';
import { BatchupError } from '../../src/core/errors.js';
import { serverMessage } from '../../src/providers/claid/api.js';
import { CLAID_FLAGS, claidFingerprint, claidOptions } from '../../src/providers/claid/options.js';
import { aihub } from '../../src/providers/aihub/index.js';

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BatchupError);
    expect((err as BatchupError).code).toBe('USAGE');
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('--operations', () => {
  it('inline JSON when it starts with {, else a file', async () => {
    expect(claidOptions({ operations: ' {"resizing":{"width":500}}' }).operations).toEqual({ resizing: { width: 500 } });
    const dir = await mkdtemp(join(tmpdir(), 'claid-ops-'));
    const file = join(dir, 'ops.json');
    await writeFile(file, '{"background":{"remove":true}}');
    expect(claidOptions({ operations: file }).operations).toEqual({ background: { remove: true } });
    expect(usage(() => claidOptions({ operations: join(dir, 'missing.json') }))).toMatch(/cannot read .*missing\.json \(ENOENT\)/);
  });

  it('is required, an object, of documented sections only: the bad key is named', () => {
    expect(usage(() => claidOptions({}))).toMatch(/claid needs --operations/);
    expect(usage(() => claidOptions({ operations: '{"resizing":' }))).toMatch(/--operations: not valid JSON/);
    expect(usage(() => claidOptions({ operations: '{"resize":{"width":5}}' }))).toMatch(/unknown section 'resize' \(claid takes restorations, adjustments/);
    expect(usage(() => claidOptions({ operations: '{"resizing":{"width":5,"mode":"x"}}' }))).toMatch(/unknown key 'resizing\.mode'/);
    expect(usage(() => claidOptions({ operations: '{"resizing":{"width":500,"height":"50%"}}' }))).toMatch(/resizing: width and height must both be pixels/);
    expect(usage(() => claidOptions({ operations: '{"padding":5}' }))).toMatch(/padding: str type expected/);
  });
});

describe('--output', () => {
  it('a storage folder, or {format, destination, metadata}', () => {
    expect(claidOptions({ operations: '{}', output: 'storage://shop/out/' }).output).toBe('storage://shop/out/');
    expect(claidOptions({ operations: '{}', output: '{"format":"png"}' }).output).toEqual({ format: 'png' });
    expect(usage(() => claidOptions({ operations: '{}', output: '{"format":"gif"}' }))).toMatch(/--output: format: must be one of jpeg/);
    expect(usage(() => claidOptions({ operations: '{}', output: '{"dest":"x"}' }))).toMatch(/unknown key 'dest'/);
    expect(usage(() => claidOptions({ operations: '{}', output: 'storage://shop/out/a.jpg' }))).toMatch(/must be a folder/);
    expect(usage(() => claidOptions({ operations: '{}', output: 'https://x/out/' }))).toMatch(/storage:\/\/NAME\/PATH/);
  });

  it('--recursive and --no-check-urls', () => {
    expect(claidOptions({ operations: '{}' })).toMatchObject({ recursive: false, checkUrls: true });
    expect(claidOptions({ operations: '{}', recursive: true, checkUrls: false })).toMatchObject({ recursive: true, checkUrls: false });
  });
});

describe('fingerprint', () => {
  it('the edit and where it goes, whatever the key order', () => {
    const a = claidOptions({ operations: '{"resizing":{"width":5,"fit":"bounds"},"background":{"remove":true}}' });
    const b = claidOptions({ operations: '{"background":{"remove":true},"resizing":{"fit":"bounds","width":5}}' });
    expect(claidFingerprint(a)).toBe(claidFingerprint(b));
    expect(claidFingerprint(a)).not.toBe(claidFingerprint(claidOptions({ operations: '{"resizing":{"width":6}}' })));
    expect(claidFingerprint(a)).not.toBe(claidFingerprint({ ...a, output: { format: 'png' } }));
  });
});

describe('--no-check-urls beside other providers', () => {
  it('is not "given" to another provider unless typed', () => {
    const all = [...CLAID_FLAGS, ...aihub.flags];
    expect(providerOptionsFrom({ checkUrls: true }, {}, aihub.flags, all).foreign).toEqual([]);
    expect(providerOptionsFrom({ checkUrls: false }, {}, aihub.flags, all).foreign).toEqual(['--no-check-urls']);
  });
});

describe('the server words, from either error body', () => {
  const res = (status: number, body: unknown) => ({ status, text: typeof body === 'string' ? body : JSON.stringify(body) });
  it('error_code shape, with details', () => {
    const body = { error_code: '9000', error_type: 'validation', error_message: 'The file is not a readable image.', error_details: { file: ['broken'] } };
    expect(serverMessage(res(422, body))).toBe('The file is not a readable image. (file: broken)');
  });
  it('detail shape (request validation) and the 429 nested under detail', () => {
    expect(serverMessage(res(422, { detail: [{ loc: ['body', 'operations', 'foo'], msg: 'extra fields not permitted', type: 'x' }] }))).toBe(
      'body.operations.foo: extra fields not permitted',
    );
    expect(serverMessage(res(429, { detail: { error_code: '2001', error_type: 'general', error_message: 'Too many requests.' } }))).toBe('Too many requests.');
    expect(serverMessage(res(502, '<html>bad gateway</html>'))).toBe('<html>bad gateway</html>');
  });
});
