/** The bach protocol of the sandbox, over real HTTP on 127.0.0.1. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { MESSAGES } from '../../src/providers/bach/contract.js';
import { makeZip } from '../../src/devtools/generate.js';
import { waitFor } from '../helpers/wait.js';
import { TOKEN, auth, download, fakePng, getStatus, mintJwt, postForm, postJson, sha256, waitDone } from './sandbox-helpers.js';

const MB = 1024 * 1024;
let sb: Sandbox;
let ep: string;

beforeAll(async () => {
  sb = await startSandbox({ token: TOKEN, processMsPerImage: 1 });
  ep = sb.bachEndpoint;
});
afterAll(async () => {
  await sb?.close();
});

describe('sandbox lifecycle and built-in routes', () => {
  it('listens on loopback with the documented endpoint shape', async () => {
    expect(sb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sb.bachEndpoint).toBe(`${sb.url}/api/vdr`);
    const h = await request(`${sb.url}/_sandbox/health`);
    expect(h.statusCode).toBe(200);
    await h.body.dump();
    const s = await request(`${sb.url}/_sandbox/stats`);
    expect(await s.body.json()).toMatchObject({ objects: expect.any(Number), receipts: expect.any(Object) });
  });

  it('removes its own temp data dir on close, keeps a given one', async () => {
    const own = await startSandbox();
    const dir = own.dataDir;
    expect(existsSync(dir)).toBe(true);
    await own.close();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('auth', () => {
  it('401 code 1001 without a proper Bearer header', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer' },
      { authorization: `Bearer  ${TOKEN}` },
      { authorization: `bearer ${TOKEN}` },
      { authorization: 'Bearer wrong' },
    ]) {
      const r = await getStatus(ep, 'nope', headers as Record<string, string>);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ code: 1001, message: MESSAGES.unauthorized });
    }
    const r = await postForm(ep, { files: [{ name: 'a.png', data: fakePng() }] }, {});
    expect(r.status).toBe(401);
    expect(r.body.code).toBe(1001);
  });

  it('accepts any non-empty bearer when no token or key pair is configured', async () => {
    const open = await startSandbox();
    try {
      const r = await getStatus(open.bachEndpoint, 'x', { authorization: 'Bearer anything' });
      expect(r.status).toBe(404);
      const r2 = await getStatus(open.bachEndpoint, 'x', {});
      expect(r2.status).toBe(401);
    } finally {
      await open.close();
    }
  });

  it('verifies HS256 JWTs when given a key pair', async () => {
    const ak = 'AK-test';
    const sk = 'SK-secret-0123456789';
    const jwtBox = await startSandbox({ accessKey: ak, secretKey: sk });
    const e = jwtBox.bachEndpoint;
    const now = Math.floor(Date.now() / 1000);
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    try {
      expect((await getStatus(e, 'x', bearer(await mintJwt(ak, sk)))).status).toBe(404);
      expect((await getStatus(e, 'x', bearer(await mintJwt(ak, 'other-secret')))).status).toBe(401);
      expect((await getStatus(e, 'x', bearer(await mintJwt('AK-other', sk)))).status).toBe(401);
      expect((await getStatus(e, 'x', bearer(await mintJwt(ak, sk, { exp: now - 10 })))).status).toBe(401);
      expect((await getStatus(e, 'x', bearer(await mintJwt(ak, sk, { nbf: now + 600 })))).status).toBe(401);
      expect((await getStatus(e, 'x', bearer(await mintJwt(ak, sk, { alg: 'HS512' })))).status).toBe(401);
      expect((await getStatus(e, 'x', bearer('not-a-jwt'))).status).toBe(401);
    } finally {
      await jwtBox.close();
    }
  });
});

describe('submit-with-files validation (HTTP 400, code 1000)', () => {
  const png = (name: string, size = 100) => ({ name, data: fakePng(size) });

  it('empty list', async () => {
    const r = await postForm(ep, { batchId: 'empty-1' });
    expect(r).toMatchObject({ status: 400, body: { code: 1000, message: 'The upload file list cannot be empty.' } });
  });

  it('names count mismatch, whatever the field order', async () => {
    for (const fieldsFirst of [true, false]) {
      const r = await postForm(ep, { files: [png('a.png'), png('b.png')], names: ['only-one.png'], fieldsFirst });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ code: 1000, message: 'The length of imageNames array must match the length of files array.' });
    }
  });

  it('extension not supported, with the ordinal of the file', async () => {
    const r = await postForm(ep, { files: [{ name: 'document.pdf', data: Buffer.from('%PDF-1.4') }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ code: 1000, message: "The 1st file 'document.pdf' extension 'pdf' is not supported." });
    const files = Array.from({ length: 11 }, (_, i) => png(`p${i}.PNG`));
    files[10] = { name: 'notes.txt', data: Buffer.from('hi') };
    const r11 = await postForm(ep, { files });
    expect(r11.body.message).toBe("The 11th file 'notes.txt' extension 'txt' is not supported.");
  });

  it('file over 10 MB reports its size with two decimals', async () => {
    const r = await postForm(ep, { files: [png('ok.jpg'), { name: 'large_photo.jpg', data: Buffer.alloc(15 * MB, 1) }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      code: 1000,
      message: "The 2nd image 'large_photo.jpg' size is 15.00MB, exceeds the maximum limit of 10MB.",
    });
  });

  it('exactly 10 MB passes, 10 MB + 1 byte fails', async () => {
    const ok = await postForm(ep, { files: [{ name: 'edge.png', data: Buffer.alloc(10 * MB, 2) }] });
    expect(ok.status).toBe(200);
    const over = await postForm(ep, { files: [png('a.png'), png('b.png'), { name: 'edge.png', data: Buffer.alloc(10 * MB + 1, 2) }] });
    expect(over.body.message).toBe("The 3rd image 'edge.png' size is 10.00MB, exceeds the maximum limit of 10MB.");
  });

  it('more than 300 files', async () => {
    const files = Array.from({ length: 301 }, (_, i) => png(`f${i}.png`, 10));
    const r = await postForm(ep, { files });
    expect(r.body).toEqual({ code: 1000, message: MESSAGES.tooMany });
  });

  it('the lowest-index error wins; a rejected request stores nothing', async () => {
    const before = sb.stats();
    const files = Array.from({ length: 22 }, (_, i) => png(`g${i}.png`, 50));
    files[21] = { name: 'twenty-second.bmpx', data: Buffer.from('x') };
    const r = await postForm(ep, { files });
    expect(r.body.message).toBe("The 22nd file 'twenty-second.bmpx' extension 'bmpx' is not supported.");
    const after = sb.stats();
    expect(after.objects).toBe(before.objects);
    expect(after.batches).toBe(before.batches);
    expect(await readdir(join(sb.dataDir, 'tmp'))).toEqual([]);
  });

  it('a size error at a lower index beats an extension error at a higher one', async () => {
    const r = await postForm(ep, {
      files: [
        { name: 'big.png', data: Buffer.alloc(11 * MB) },
        { name: 'x.pdf', data: Buffer.from('x') },
      ],
    });
    expect(r.body.message).toBe("The 1st image 'big.png' size is 11.00MB, exceeds the maximum limit of 10MB.");
  });

  it('not multipart at all', async () => {
    const res = await request(`${ep}/batch-upload/submit-with-files`, {
      method: 'POST',
      body: '{}',
      headers: { ...auth(), 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { code: number }).code).toBe(1000);
  });
});

describe('submit-with-files success, status and CDN', () => {
  it('walks to TASK_SUCCEEDED with results by index, names from image_names, byte-identical CDN', async () => {
    const a = fakePng(3000);
    const b = fakePng(4000);
    const c = fakePng(5000);
    const r = await postForm(ep, {
      files: [
        { name: 'a.png', data: a },
        { name: 'b.JPG', data: b },
        { name: 'c.webp', data: c },
      ],
      names: ['hero-image.jpg', 'feature-1.jpg', 'feature-2.jpg'],
      batchId: 'product-launch-2025',
      fieldsFirst: true,
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      code: 200,
      message: 'success',
      data: {
        batch_id: 'product-launch-2025',
        total_count: 3,
        message: 'Batch file upload task submitted, please use batch id to query upload progress.',
        status: 'TASK_PENDING',
      },
    });
    const d = await waitDone(ep, 'product-launch-2025');
    expect(d).toMatchObject({
      batch_id: 'product-launch-2025',
      total_count: 3,
      processed_count: 3,
      success_count: 3,
      failed_count: 0,
      status: 'TASK_SUCCEEDED',
    });
    expect(d.results.map((x: any) => [x.index, x.image_name, x.status])).toEqual([
      [0, 'hero-image.jpg', 'TASK_SUCCEEDED'],
      [1, 'feature-1.jpg', 'TASK_SUCCEEDED'],
      [2, 'feature-2.jpg', 'TASK_SUCCEEDED'],
    ]);
    expect(d.results[0].image_url).toBe(`${sb.url}/cdn/${sha256(a)}.png`);
    expect(d.results[1].image_url).toBe(`${sb.url}/cdn/${sha256(b)}.jpg`);
    for (const [i, bytes] of [a, b, c].entries()) {
      const got = await download(d.results[i].image_url);
      expect(got.status).toBe(200);
      expect(sha256(got.bytes)).toBe(sha256(bytes));
    }
    expect((await download(d.results[0].image_url)).type).toBe('image/png');
    expect((await download(d.results[1].image_url)).type).toBe('image/jpeg');
    const stats = sb.stats();
    for (const bytes of [a, b, c]) expect(stats.receipts[sha256(bytes)]).toBe(1);
    const onDisk = join(sb.dataDir, 'objects', sha256(a).slice(0, 2), sha256(a));
    expect(existsSync(onDisk)).toBe(true);
  });

  it('generates a batch_id; defaults names to file names; status walks PENDING → PROCESSING → SUCCEEDED', async () => {
    // The sandbox's clock is held and moved by hand: every state is seen, however busy the machine.
    let t = Date.now();
    const slow = await startSandbox({ processMsPerImage: 500, clock: () => t });
    try {
      const files = Array.from({ length: 4 }, (_, i) => ({ name: `s${i}.gif`, data: fakePng(200) }));
      const r = await postForm(slow.bachEndpoint, { files }, { authorization: 'Bearer x' });
      const id = r.body.data.batch_id as string;
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      const walk: [string, number][] = [];
      for (let step = 0; step < 12; step++) {
        const s = await getStatus(slow.bachEndpoint, id, { authorization: 'Bearer x' });
        walk.push([s.body.data.status, s.body.data.processed_count]);
        expect(s.body.data.results.length).toBe(s.body.data.processed_count);
        if (s.body.data.status === 'TASK_SUCCEEDED') {
          expect(s.body.data.results.map((x: any) => x.image_name)).toEqual(['s0.gif', 's1.gif', 's2.gif', 's3.gif']);
          break;
        }
        t += 250; // half an image
      }
      expect([...new Set(walk.map(([state]) => state))]).toEqual(['TASK_PENDING', 'TASK_PROCESSING', 'TASK_SUCCEEDED']);
      expect(walk.map(([, n]) => n)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4]);
    } finally {
      await slow.close();
    }
  });

  it('unknown batch: 404 code 1203', async () => {
    const r = await getStatus(ep, 'no-such-batch');
    expect(r).toEqual({ status: 404, body: { code: 1203, message: 'Batch ID does not exist or has expired.' } });
  });

  it('batch_id reuse: 400 code 1000, nothing stored', async () => {
    const first = await postForm(ep, { files: [{ name: 'r.png', data: fakePng() }], batchId: 'reused-1' });
    expect(first.status).toBe(200);
    const before = sb.stats();
    const again = await postForm(ep, { files: [{ name: 'r2.png', data: fakePng() }], batchId: 'reused-1' });
    expect(again.body).toEqual({ code: 1000, message: "Batch ID 'reused-1' already exists." });
    expect(sb.stats().objects).toBe(before.objects);
    const viaJson = await postJson(ep, { batch_id: 'reused-1', images: [{ image_url: 'http://127.0.0.1:1/x.png' }] });
    expect(viaJson.body.message).toBe("Batch ID 'reused-1' already exists.");
  });

  it('the same content twice is stored once but receipted twice', async () => {
    const same = fakePng(700);
    const before = sb.stats();
    const r = await postForm(ep, {
      files: [
        { name: 'x.png', data: same },
        { name: 'y.png', data: same },
      ],
    });
    expect(r.status).toBe(200);
    const after = sb.stats();
    expect(after.objects).toBe(before.objects + 1);
    expect(after.bytesStored).toBe(before.bytesStored + 700);
    expect(after.receipts[sha256(same)]).toBe(2);
    expect(after.batches).toBe(before.batches + 1);
    expect(after.requests['bach.submit-with-files']).toBeGreaterThan(before.requests['bach.submit-with-files'] ?? 0);
  });

  it('CDN 404s for unknown or malformed names', async () => {
    expect((await download(`${sb.url}/cdn/${'0'.repeat(64)}.png`)).status).toBe(404);
    expect((await download(`${sb.url}/cdn/../objects`)).status).toBe(404);
    expect((await download(`${sb.url}/cdn/abc.png`)).status).toBe(404);
  });
});

describe('ZIP archives', () => {
  it('expands image entries with the ZIP index and <zip name>/<entry path>', async () => {
    const i1 = fakePng(300);
    const i2 = fakePng(400);
    const big = Buffer.alloc(11 * MB, 7); // deflates to almost nothing
    const zip1 = makeZip([
      { name: 'photos/' },
      { name: 'photos/one.png', data: i1 },
      { name: 'readme.txt', data: Buffer.from('not an image') },
      { name: '__MACOSX/photos/._one.png', data: Buffer.from('meta') },
      { name: 'two.JPG', data: i2, deflate: true },
      { name: 'huge.png', data: big, deflate: true },
    ]);
    const zip2 = makeZip([{ name: 'only.txt', data: Buffer.from('x') }]);
    const loose = fakePng(123);
    const r = await postForm(ep, {
      files: [
        { name: 'set-1.zip', data: zip1 },
        { name: 'loose.png', data: loose },
        { name: 'set-2.ZIP', data: zip2 },
        { name: 'broken.zip', data: Buffer.from('PK nope') },
      ],
      names: ['product-set-1', 'loose-custom.png', 'product-set-2', 'product-set-3'],
    });
    expect(r.status).toBe(200);
    expect(r.body.data.total_count).toBe(4);
    const d = await waitDone(ep, r.body.data.batch_id);
    expect(d.total_count).toBe(6);
    expect(d.success_count).toBe(3);
    expect(d.failed_count).toBe(3);
    expect(d.results.map((x: any) => [x.index, x.image_name, x.status, x.error_message])).toEqual([
      [0, 'product-set-1/photos/one.png', 'TASK_SUCCEEDED', undefined],
      [0, 'product-set-1/two.JPG', 'TASK_SUCCEEDED', undefined],
      [0, 'product-set-1/huge.png', 'TASK_FAILED', "The 1st image 'product-set-1/huge.png' size is 11.00MB, exceeds the maximum limit of 10MB."],
      [1, 'loose-custom.png', 'TASK_SUCCEEDED', undefined],
      [2, 'product-set-2', 'TASK_FAILED', MESSAGES.zipEmpty(3, 'product-set-2')],
      [3, 'product-set-3', 'TASK_FAILED', MESSAGES.badZip(4, 'product-set-3')],
    ]);
    expect(sha256((await download(d.results[1].image_url)).bytes)).toBe(sha256(i2));
    expect(d.results[1].image_url).toMatch(/\.jpg$/);
    const stats = sb.stats();
    expect(stats.receipts[sha256(i1)]).toBe(1);
    expect(stats.receipts[sha256(big)]).toBeUndefined();
  });
});

describe('async submit (JSON)', () => {
  it('base64 and URL items, default names, results by index', async () => {
    const src = fakePng(2048);
    const up = await postForm(ep, { files: [{ name: 'src.png', data: src }] });
    const srcUrl = (await waitDone(ep, up.body.data.batch_id)).results[0].image_url as string;
    const b64img = fakePng(5000);
    const r = await postJson(ep, {
      batch_id: 'async-1',
      extra: { ignored: [1, 2, { deep: 'yes' }] },
      images: [
        { image_name: 'from-b64.png', image_base64: b64img.toString('base64') },
        { image_url: srcUrl },
        { image_base64: b64img.toString('base64').replace(/(.{76})/g, '$1\n'), unknown_field: true },
        { image_name: 'dead.png', image_url: 'http://127.0.0.1:9/nothing.png' },
        { image_name: 'outside.png', image_url: 'http://example.com/x.png' },
        { image_name: 'missing.png', image_url: `${sb.url}/cdn/${'f'.repeat(64)}.png` },
      ],
    });
    expect(r).toEqual({
      status: 200,
      body: { code: 200, message: 'success', data: { batch_id: 'async-1', total_count: 6, message: MESSAGES.submitted, status: 'TASK_PENDING' } },
    });
    const d = await waitDone(ep, 'async-1');
    expect(d.results.map((x: any) => [x.index, x.image_name, x.status, x.error_message])).toEqual([
      [0, 'from-b64.png', 'TASK_SUCCEEDED', undefined],
      [1, `${sha256(src)}.png`, 'TASK_SUCCEEDED', undefined],
      [2, 'image_2', 'TASK_SUCCEEDED', undefined],
      [3, 'dead.png', 'TASK_FAILED', MESSAGES.urlFailed],
      [4, 'outside.png', 'TASK_FAILED', MESSAGES.urlFailed],
      [5, 'missing.png', 'TASK_FAILED', MESSAGES.urlFailed],
    ]);
    expect(sha256((await download(d.results[0].image_url)).bytes)).toBe(sha256(b64img));
    expect(sha256((await download(d.results[1].image_url)).bytes)).toBe(sha256(src));
    expect(d.results[2].image_url).toBe(`${sb.url}/cdn/${sha256(b64img)}.png`); // sniffed
    const stats = sb.stats();
    expect(stats.receipts[sha256(b64img)]).toBe(2);
    expect(stats.receipts[sha256(src)]).toBe(2);
  });

  it('URL downloads over 10 MB fail per item with the URL size message (declared or streamed)', async () => {
    const { createServer } = await import('node:http');
    const payload = Buffer.alloc(15 * MB, 4);
    const srv = createServer((req, res) => {
      if (req.url === '/declared.png') {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': payload.length });
        res.end(payload);
      } else if (req.url === '/chunked.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(payload.subarray(0, 5 * MB));
        res.end(payload.subarray(5 * MB));
      } else if (req.url === '/redirect') {
        res.writeHead(302, { location: '/ok' });
        res.end();
      } else if (req.url === '/ok') {
        res.writeHead(200, { 'content-type': 'image/gif' });
        res.end(Buffer.from('GIF89a-tiny'));
      } else {
        res.writeHead(500);
        res.end();
      }
    });
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    try {
      const r = await postJson(ep, {
        images: [
          { image_url: `${base}/declared.png` },
          { image_url: `${base}/chunked.png` },
          { image_url: `${base}/redirect` },
          { image_url: `${base}/err.png` },
        ],
      });
      const d = await waitDone(ep, r.body.data.batch_id);
      expect(d.results.map((x: any) => [x.image_name, x.status, x.error_message])).toEqual([
        ['declared.png', 'TASK_FAILED', 'Image size from URL is 15.00MB, exceeds the maximum limit of 10MB.'],
        ['chunked.png', 'TASK_FAILED', 'Image size from URL is 15.00MB, exceeds the maximum limit of 10MB.'],
        ['redirect', 'TASK_SUCCEEDED', undefined],
        ['err.png', 'TASK_FAILED', MESSAGES.urlFailed],
      ]);
      expect(d.results[2].image_url).toMatch(/\.gif$/);
    } finally {
      srv.close();
    }
  });

  it('validation messages', async () => {
    const cases: Array<[unknown, string]> = [
      [{ images: [] }, MESSAGES.emptyList],
      [{}, MESSAGES.emptyList],
      [{ images: [{ image_name: 'n.png' }] }, MESSAGES.imageSource(1, 'n.png')],
      [{ images: [{ image_url: 'http://127.0.0.1/a.png' }, { image_url: 'http://127.0.0.1/b.png', image_base64: 'AAAA' }] }, MESSAGES.imageSource(2, 'b.png')],
      [{ images: [{ image_base64: 'data:image/png;base64,AAAA' }] }, MESSAGES.invalidBase64(1, 'image_0')],
      [{ images: [{ image_base64: 'AAAAA' }] }, MESSAGES.invalidBase64(1, 'image_0')],
      [{ images: Array.from({ length: 301 }, (_, i) => ({ image_url: `http://127.0.0.1/${i}.png` })) }, MESSAGES.tooMany],
      [{ images: 'nope' }, MESSAGES.invalidBody("'images' must be an array of objects")],
      [{ images: [1] }, MESSAGES.invalidBody('each item of images must be an object')],
      [{ images: [{ image_url: 5 }] }, MESSAGES.invalidBody("image 'image_url' must be a string")],
      [[], MESSAGES.invalidBody('the body must be a JSON object')],
    ];
    for (const [body, message] of cases) {
      const r = await postJson(ep, body);
      expect(r, JSON.stringify(body).slice(0, 80)).toEqual({ status: 400, body: { code: 1000, message } });
    }
    const malformed = await postJson(ep, '{"images": [');
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/^Invalid request body: malformed JSON/);
  });

  it('base64 over 10 MB (decoded) is rejected with the size message; nothing stored', async () => {
    const before = sb.stats();
    const huge = Buffer.alloc(12 * MB, 9).toString('base64');
    const r = await postJson(ep, { images: [{ image_url: 'http://127.0.0.1/a.png' }, { image_name: 'big.png', image_base64: huge }] });
    expect(r).toEqual({ status: 400, body: { code: 1000, message: "The 2nd image 'big.png' size is 12.00MB, exceeds the maximum limit of 10MB." } });
    expect(sb.stats().objects).toBe(before.objects);
    expect(await readdir(join(sb.dataDir, 'tmp'))).toEqual([]);
  });

  it('streams a large body in chunks (escapes, unicode names, key order)', async () => {
    const img = fakePng(3 * MB);
    const body = `{"images":[{"image_base64":"${img.toString('base64').replace(/\//g, '\\/')}","image_name":"caf\\u00e9-\\ud83d\\ude00.png"}],"batch_id":"escaped-1"}`;
    const r = await postJson(ep, body);
    expect(r.status).toBe(200);
    const d = await waitDone(ep, 'escaped-1');
    expect(d.results[0].image_name).toBe('café-😀.png');
    expect(sha256((await download(d.results[0].image_url)).bytes)).toBe(sha256(img));
  });
});

describe('robustness', () => {
  const rawUpload = async (path: string, contentType: string, head: string, sendBytes: number) => {
    const { connect } = await import('node:net');
    const u = new URL(sb.url);
    await new Promise<void>((ok, fail) => {
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(
          `POST /api/vdr/batch-upload/${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
            `Content-Type: ${contentType}\r\nContent-Length: ${head.length + 50 * MB}\r\n\r\n${head}`,
        );
        sock.write(Buffer.alloc(sendBytes, 0x41), () =>
          setTimeout(() => {
            sock.destroy();
            ok();
          }, 100),
        );
      });
      sock.on('error', fail);
    });
  };
  /** Both cut-off uploads reached their routes and the handlers returned (so cleaned up): only then is the temp dir's emptiness telling. */
  const settle = (before: ReturnType<typeof sb.stats>) =>
    waitFor(() => {
      const s = sb.stats();
      const arrived = (route: string) => (s.requests[route] ?? 0) > (before.requests[route] ?? 0);
      return arrived('bach.submit-with-files') && arrived('bach.submit') && s.handling === 0;
    }, 'both cut-off uploads to be handled');

  it('a client that disconnects mid-upload leaves nothing behind (multipart and JSON)', async () => {
    const before = sb.stats();
    await rawUpload(
      'submit-with-files',
      'multipart/form-data; boundary=XyZ',
      '--XyZ\r\nContent-Disposition: form-data; name="files"; filename="cut.png"\r\n\r\n',
      3 * MB,
    );
    await rawUpload('submit', 'application/json', '{"images":[{"image_base64":"', 3 * MB);
    await settle(before);
    expect(await readdir(join(sb.dataDir, 'tmp'))).toEqual([]);
    expect(sb.stats().objects).toBe(before.objects);
    expect(sb.stats().batches).toBe(before.batches);
    expect((await getStatus(ep, 'still-alive')).status).toBe(404);
  });

  it('an early 400 is still delivered while the client keeps sending a large body', async () => {
    const pad = 'x'.repeat(20 * MB);
    const r = await postJson(ep, `{"images": 5, "pad": "${pad}"}`);
    expect(r).toEqual({ status: 400, body: { code: 1000, message: MESSAGES.invalidBody("'images' must be an array of objects") } });
    expect((await getStatus(ep, 'after-early-400')).status).toBe(404);
  });
});

describe('persistence', () => {
  it('a sandbox restarted on the same data dir still answers status and serves the CDN', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'sbx-persist-'));
    try {
      const img = fakePng(999);
      const one = await startSandbox({ dataDir: dir, processMsPerImage: 0 });
      await postForm(one.bachEndpoint, { files: [{ name: 'keep.png', data: img }], batchId: 'kept' }, { authorization: 'Bearer t' });
      await one.close();
      expect(existsSync(dir)).toBe(true);
      const two = await startSandbox({ dataDir: dir, processMsPerImage: 0 });
      try {
        const s = await getStatus(two.bachEndpoint, 'kept', { authorization: 'Bearer t' });
        expect(s.body.data.status).toBe('TASK_SUCCEEDED');
        expect(s.body.data.results[0].image_url.startsWith(two.url)).toBe(true);
        expect(sha256((await download(s.body.data.results[0].image_url)).bytes)).toBe(sha256(img));
        expect(two.stats()).toMatchObject({ objects: 1, bytesStored: 999, batches: 1, receipts: { [sha256(img)]: 1 } });
        const insp = await request(`${two.url}/_sandbox/batches/kept`);
        const info = (await insp.body.json()) as any;
        expect(info.items[0]).toMatchObject({ index: 0, image_name: 'keep.png', sha256: sha256(img), size: 999, kind: 'file' });
      } finally {
        await two.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
