/** The claid protocol of the sandbox, over real HTTP on 127.0.0.1 (a fake clock walks batches and rate windows). */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormData, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/devtools/generate.js';
import { CHECKERS } from '../../src/core/validate/index.js';
import { sniff } from '../../src/core/validate/sniff.js';
import { BufferSource } from '../../src/core/validate/source.js';
import { claidPolicy } from '../../src/providers/claid/policy.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { solidImage } from '../../src/sandbox/protocols/claid/encode.js';
import { waitFor } from '../helpers/wait.js';
import { TOKEN, auth, sha256 } from './sandbox-helpers.js';

let now = Date.parse('2026-05-01T00:00:00Z');
const clock = () => now;
let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({
    token: TOKEN,
    clock,
    processMsPerImage: 100,
    protocolOptions: { claid: { rateLimit: '1000;w=60', queueMs: 1000, pauseMs: 1000 } },
  });
});
afterAll(async () => {
  await sb?.close();
});

type Res = { status: number; headers: Record<string, string | string[] | undefined>; body: any };

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = auth()): Promise<Res> {
  const isForm = body instanceof FormData;
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: body === undefined || isForm ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : isForm ? (body as FormData) : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

function uploadForm(file: Buffer | undefined, data: unknown, extra?: Record<string, string>): FormData {
  const fd = new FormData();
  if (data !== undefined) fd.append('data', typeof data === 'string' ? data : JSON.stringify(data));
  if (file) fd.append('file', new Blob([new Uint8Array(file)]), 'photo.png');
  for (const [k, v] of Object.entries(extra ?? {})) fd.append(k, v);
  return fd;
}

/** Width and height from a file's real header (core's sniffer and structure checks; AVIF from ispe). */
async function dims(bytes: Buffer): Promise<{ format?: string; width?: number; height?: number }> {
  const { format } = await sniff(bytes, new BufferSource(bytes));
  if (format === 'avif') {
    const at = bytes.indexOf('ispe');
    return { format, width: bytes.readUInt32BE(at + 8), height: bytes.readUInt32BE(at + 12) };
  }
  return { format, ...(await CHECKERS[format!]!(new BufferSource(bytes), claidPolicy)) };
}

const download = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

describe('auth and the error bodies', () => {
  it('401 in the error_code shape, without rate-limit headers', async () => {
    const r = await call(sb.url, 'GET', '/v1/storage/storages', undefined, {});
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error_code: '111', error_type: 'auth', error_message: 'Authorization is required.' });
    expect(r.headers['ratelimit-limit']).toBeUndefined();
  });

  it('an unknown batch is 404, a non-integer id 422 in the detail shape', async () => {
    const r = await call(sb.url, 'GET', '/v1/image/edit/batch/999999');
    expect(r.status).toBe(404);
    expect(r.body.error_message).toBe('Batch image edit pipeline not found.');
    const bad = await call(sb.url, 'GET', '/v1-beta1/image/edit/batch/abc');
    expect(bad.status).toBe(422);
    expect(bad.body.detail[0]).toMatchObject({ loc: ['path', 'task_id'], type: 'type_error.integer' });
  });
});

describe('upload: one synchronous edit', () => {
  it('input metadata from the real header, the output made to the resizing rules, downloadable at its tmp_url', async () => {
    const png = makePng(7, { width: 333, height: 101 });
    const before = sb.stats().receipts[sha256(png)] ?? 0;
    const r = await call(sb.url, 'POST', '/v1/image/edit/upload', uploadForm(png, { operations: { resizing: { width: 500 } } }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.input).toEqual({ ext: 'png', mps: 0.033633, mime: 'image/png', format: 'PNG', width: 333, height: 101 });
    expect(r.body.data.output).toMatchObject({ ext: 'jpeg', mime: 'image/jpeg', format: 'JPEG', width: 500, height: 152 });
    expect(r.headers['x-request-id']).toBeTruthy();
    expect(r.headers['ratelimit-limit']).toBe('1000, 1000;w=60');
    expect(await dims(await download(r.body.data.output.tmp_url))).toEqual({ format: 'jpg', width: 500, height: 152 });
    expect(sb.stats().receipts[sha256(png)]).toBe(before + 1);
    expect((sb.stats() as any).claid.uploads).toBeGreaterThan(0);
  });

  it('every output format carries the reported size in its header', async () => {
    for (const format of ['png', 'webp', 'tiff', 'avif', 'jpeg'] as const) {
      const r = await call(
        sb.url,
        'POST',
        '/v1/image/edit/upload',
        uploadForm(makePng(8), { operations: { resizing: { width: 40, height: 30 } }, output: { format } }),
      );
      expect(r.status, format).toBe(200);
      expect(r.body.data.output).toMatchObject({ width: 40, height: 30, format: format.toUpperCase() });
      expect(await dims(await download(r.body.data.output.tmp_url))).toMatchObject({ width: 40, height: 30 });
    }
    // Outputs are real images: a big one stays small on disk.
    expect((await solidImage('png', 4000, 3000, [1, 2, 3])).length).toBeLessThan(200_000);
  });

  it('refuses with both 422 shapes: request validation (detail) and the contract rules (9000)', async () => {
    const post = (fd: FormData) => call(sb.url, 'POST', '/v1/image/edit/upload', fd);
    const png = makePng(9);
    const extra = await post(uploadForm(png, { operations: {} }, { input: 'http://x/a.png' }));
    expect(extra.status).toBe(422);
    expect(extra.body.detail[0]).toMatchObject({ loc: ['body', 'input'], msg: 'extra fields not permitted' });
    const section = await post(uploadForm(png, { operations: { resize: { width: 5 } } }));
    expect(section.body.detail[0].loc).toEqual(['body', 'operations', 'resize']);
    const noFile = await post(uploadForm(undefined, { operations: {} }));
    expect(noFile.body.detail[0]).toMatchObject({ loc: ['body', 'file'], msg: 'field required' });
    const mixed = await post(uploadForm(png, { operations: { resizing: { width: 5, height: '50%' } } }));
    expect(mixed.status).toBe(422);
    expect(mixed.body).toMatchObject({ error_code: '9000', error_type: 'validation', error_details: { 'operations.resizing': [expect.any(String)] } });
    const notImage = await post(uploadForm(Buffer.from('just some text, no image at all'), { operations: {} }));
    expect(notImage.body).toMatchObject({ error_code: '9000', error_message: 'The file is not a readable image.' });
    const pdf = await post(uploadForm(Buffer.from('%PDF-1.4\n%%EOF\n'), { operations: {} }));
    expect(pdf.body).toMatchObject({ error_code: '9000', error_message: 'Input format PDF is not supported.' });
    const huge = await post(uploadForm(png, { operations: { resizing: { width: '200000%' } } }));
    expect(huge.body.error_message).toMatch(/over the limit of 16383 px/);
  });
});

describe('batches', () => {
  it('walk ACCEPTED → WAITING → PAUSED → PROCESSING → DONE; results in input order, without input URLs', async () => {
    const urls = [makePng(21, { width: 50, height: 20 }), makePng(22, { width: 80, height: 40 })].map((b) => b);
    const stored: string[] = [];
    for (const b of urls) {
      // The sandbox fetches from itself: store the images through an upload, then point at /cdn.
      const r = await call(sb.url, 'POST', '/v1/image/edit/upload', uploadForm(b, { operations: {}, output: { format: 'png' } }));
      stored.push(r.body.data.output.tmp_url);
    }
    const t0 = now;
    const r = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: stored, operations: { resizing: { height: 10 } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toMatchObject({ status: 'ACCEPTED', errors: [], results: [] });
    const id = r.body.data.id;
    expect(r.body.data.result_url).toBe(`${sb.url}/v1/image/edit/batch/${id}`);
    const status = async (at: number) => {
      now = at;
      return (await call(sb.url, 'GET', `/v1/image/edit/batch/${id}`)).body.data;
    };
    await waitFor(async () => (await call(sb.url, 'GET', `/_sandbox/batches/claid-${id}`, undefined, {})).body.work === 'done', 'the batch work');
    expect((await status(t0 + 500)).status).toBe('ACCEPTED');
    expect((await status(t0 + 1500)).status).toBe('WAITING');
    expect((await status(t0 + 2500)).status).toBe('PAUSED');
    expect((await status(t0 + 3100)).status).toBe('PROCESSING');
    const done = await status(t0 + 3300);
    expect(done.status).toBe('DONE');
    expect(done.results.map((x: any) => [x.input_object.width, x.output_object.width, x.output_object.height])).toEqual([
      [50, 25, 10],
      [80, 20, 10],
    ]);
    expect(JSON.stringify(done.results)).not.toContain(stored[0]!);
  });

  it('one input that cannot be fetched fails the whole batch: ERROR, errors filled, no results', async () => {
    const r = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: [`${sb.url}/cdn/${'0'.repeat(64)}.png`], operations: {} });
    const id = r.body.data.id;
    await waitFor(async () => (await call(sb.url, 'GET', `/_sandbox/batches/claid-${id}`, undefined, {})).body.work !== 'pending', 'the batch work');
    now += 10_000;
    const s = (await call(sb.url, 'GET', `/v1/image/edit/batch/${id}`)).body.data;
    expect(s.status).toBe('ERROR');
    expect(s.results).toEqual([]);
    expect(s.errors[0].error).toMatch(/Failed to fetch the input image .*: HTTP 404/);
  });

  it('a cancelled batch is CANCELLED', async () => {
    const r = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: `${sb.url}/cdn/x.png`, operations: {} });
    expect((await call(sb.url, 'POST', `/_sandbox/claid/batches/${r.body.data.id}/cancel`, undefined, {})).status).toBe(200);
    now += 60_000;
    expect((await call(sb.url, 'GET', `/v1/image/edit/batch/${r.body.data.id}`)).body.data.status).toBe('CANCELLED');
  });

  it('refuses bad inputs and unknown sections (422), a destination that is not a folder', async () => {
    const bad = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: ['ftp://x/a.png'], operations: {} });
    expect(bad.body.detail[0].loc).toEqual(['body', 'input', '0']);
    const extra = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: 'http://x/a.png', operations: { magic: {} } });
    expect(extra.body.detail[0].loc).toEqual(['body', 'operations', 'magic']);
    const dest = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: 'http://x/a.png', operations: {}, output: 'storage://shop/out.jpg' });
    expect(dest.body.error_code).toBe('9000');
  });
});

describe('storages: folders under --data', () => {
  it('lists them, edits a folder (recursively) into another, skips non-images, keeps names; empty folder → ERROR', async () => {
    const root = join(sb.dataDir, 'claid', 'storages', 'shop');
    await mkdir(join(root, 'in', 'sub'), { recursive: true });
    await mkdir(join(root, 'empty'), { recursive: true });
    await writeFile(join(root, 'in', 'a.png'), makePng(31, { width: 20, height: 10 }));
    await writeFile(join(root, 'in', 'notes.txt'), 'not an image');
    await writeFile(join(root, 'in', 'sub', 'b.png'), makePng(32, { width: 30, height: 10 }));
    const list = await call(sb.url, 'GET', '/v1/storage/storages');
    expect(list.body.data).toContainEqual({ id: 1, name: 'shop', type: 's3', parameters: { bucket: 'shop', folder: '' } });

    const r = await call(sb.url, 'POST', '/v1/image/edit/batch', {
      input: { source: 'storage://shop/in/', recursive: true },
      operations: { resizing: { width: 10 } },
      output: { format: 'png', destination: 'storage://shop/out/' },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id = r.body.data.id;
    await waitFor(async () => (await call(sb.url, 'GET', `/_sandbox/batches/claid-${id}`, undefined, {})).body.work !== 'pending', 'the batch work');
    now += 60_000;
    const s = (await call(sb.url, 'GET', `/v1/image/edit/batch/${id}`)).body.data;
    expect(s.status).toBe('DONE');
    expect(s.results.map((x: any) => [x.output_object.object_uri, x.output_object.width, x.output_object.height])).toEqual([
      ['s3://shop/out/a.png', 10, 5],
      ['s3://shop/out/sub/b.png', 10, 3],
    ]);
    expect(await dims(await readFile(join(root, 'out', 'sub', 'b.png')))).toMatchObject({ width: 10, height: 3 });

    const empty = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: 'storage://shop/empty/', operations: {} });
    await waitFor(async () => (await call(sb.url, 'GET', `/_sandbox/batches/claid-${empty.body.data.id}`, undefined, {})).body.work !== 'pending', 'work');
    now += 60_000;
    expect((await call(sb.url, 'GET', `/v1/image/edit/batch/${empty.body.data.id}`)).body.data.errors[0].error).toBe('No images found');

    const unknown = await call(sb.url, 'POST', '/v1/image/edit/batch', { input: 'storage://nope/in/', operations: {} });
    expect(unknown.body).toMatchObject({ error_code: '9000', error_message: "Storage 'nope' is not connected." });
  });
});

describe('limits of the account and the key', () => {
  let small: Sandbox;
  let t = Date.parse('2026-06-01T00:00:00Z');
  beforeAll(async () => {
    small = await startSandbox({
      token: TOKEN,
      clock: () => t,
      protocolOptions: { claid: { rateLimit: '3;w=10, 2;w=1', scopes: ['image_editing'], apiCalls: 1 } },
    });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('rate limit: headers of the tightest window, a 429 that does not count and has no Retry-After', async () => {
    const get = () => call(small.url, 'GET', '/v1/image/edit/batch/1');
    const a = await get();
    expect([a.headers['ratelimit-limit'], a.headers['ratelimit-remaining'], a.headers['ratelimit-reset']]).toEqual(['2, 3;w=10, 2;w=1', '1', '1']);
    const b = await get();
    expect(b.headers['ratelimit-remaining']).toBe('0');
    const c = await get();
    expect(c.status).toBe(429);
    expect(c.headers['retry-after']).toBeUndefined();
    expect(c.headers['ratelimit-remaining']).toBe('-1');
    expect(c.body).toEqual({ detail: { error_code: '2001', error_type: 'general', error_message: 'Too many requests.' } });
    t += 1000; // the second window reopens; the 429 did not count against the 10 s window
    const d = await get();
    expect(d.status).toBe(404);
    expect([d.headers['ratelimit-limit'], d.headers['ratelimit-remaining']]).toEqual(['3, 3;w=10, 2;w=1', '0']);
    expect((small.stats() as any).claid.rateLimited).toBe(1);
    t += 10_000;
  });

  it('a key without the storage scope: 403 on storages, editing still works; then no calls left: 402', async () => {
    // Each request in a fresh pair of windows (this key's limit is 2 a second).
    const fresh = <T>(r: T) => ((t += 11_000), r);
    const list = await call(fresh(small.url), 'GET', '/v1/storage/storages');
    expect(list.status).toBe(403);
    expect(list.body.error_message).toBe('Not enough permissions.');
    const folder = await call(fresh(small.url), 'POST', '/v1/image/edit/batch', { input: 'storage://shop/in/', operations: {} });
    expect(folder.status).toBe(403);
    const ok = await call(fresh(small.url), 'POST', '/v1/image/edit/upload', uploadForm(makePng(41), { operations: {} }));
    expect(ok.status).toBe(200);
    const none = await call(fresh(small.url), 'POST', '/v1/image/edit/upload', uploadForm(makePng(42), { operations: {} }));
    expect(none.status).toBe(402);
    expect(none.body).toMatchObject({ error_type: 'billing', error_message: 'No API calls left.' });
  });
});
