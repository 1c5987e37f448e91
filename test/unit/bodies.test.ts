import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import busboy from 'busboy';
import { describe, expect, it } from 'vitest';
import { jsonArrayBody, multipartBody, base64Length, gathered, rawFileBody } from '../../src/core/bodies.js';

async function collect(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of iter) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function fixture(bytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'batchup-bodies-'));
  const data = randomBytes(bytes);
  const path = join(dir, 'f.bin');
  await writeFile(path, data);
  return { path, data, sha: createHash('sha256').update(data).digest('hex') };
}

describe('gathered', () => {
  it('joins small pieces into chunks of at most 64 KiB, passes large ones as they are, keeps every byte in order', async () => {
    const sizes = [200, 4_000, 2, 0, 60_000, 70_000, 10, 65_536, 1, 65_535, 3];
    const pieces = sizes.map((n) => randomBytes(n));
    const large = new Set(pieces.filter((p) => p.length >= 65_536));
    const out: Buffer[] = [];
    const asReceived: Buffer[] = [];
    for await (const c of gathered(
      (async function* () {
        for (const p of pieces) yield p;
      })(),
    )) {
      out.push(c);
      asReceived.push(Buffer.from(c));
    }
    expect(Buffer.concat(out).equals(Buffer.concat(pieces))).toBe(true);
    for (const c of out) expect(c.length <= 65_536 || large.has(c)).toBe(true);
    // Every large piece went out as itself; the small ones in far fewer writes than pieces.
    for (const p of large) expect(out).toContain(p);
    expect(out.length).toBeLessThan(sizes.length);
    // A chunk handed out is never written into again.
    expect(out.every((c, i) => c.equals(asReceived[i]!))).toBe(true);
  });
});

describe('multipartBody', () => {
  it('streams parts with an exact Content-Length that a real parser reads back', async () => {
    const a = await fixture(700_001);
    const b = await fixture(3);
    const progress: number[] = [];
    const hashes: string[] = [];
    const body = multipartBody([
      {
        name: 'files',
        filename: 'ä "q".png',
        contentType: 'image/png',
        file: { path: a.path, size: a.data.length, onProgress: (n) => progress.push(n), onDone: (h) => hashes.push(h) },
      },
      { name: 'files', filename: 'b.png', contentType: 'image/png', file: { path: b.path, size: 3, onDone: (h) => hashes.push(h) } },
      { name: 'image_names', value: 'first' },
      { name: 'batch_id', value: 'x1' },
    ]);
    const raw = await collect(body.open());
    expect(raw.length).toBe(body.length);
    expect(progress.at(-1)).toBe(a.data.length);
    expect(hashes).toEqual([a.sha, b.sha]);

    const got: { files: { name: string; data: Buffer }[]; fields: [string, string][] } = { files: [], fields: [] };
    await new Promise<void>((resolve, reject) => {
      const bb = busboy({ headers: { 'content-type': body.contentType }, defParamCharset: 'utf8' });
      bb.on('file', (_n, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => got.files.push({ name: info.filename, data: Buffer.concat(chunks) }));
      });
      bb.on('field', (n, v) => got.fields.push([n, v]));
      bb.on('close', resolve).on('error', reject);
      bb.end(raw);
    });
    expect(got.files.map((f) => f.name)).toEqual(['ä %22q%22.png', 'b.png']);
    expect(got.files[0]!.data.equals(a.data)).toBe(true);
    expect(got.fields).toEqual([
      ['image_names', 'first'],
      ['batch_id', 'x1'],
    ]);
  });

  it('fails when a file changed size since it was scanned (shrunk or grown; small or streamed)', async () => {
    for (const bytes of [10, 300 * 1024]) {
      const a = await fixture(bytes);
      for (const size of [bytes + 1, bytes - 1]) {
        const body = multipartBody([{ name: 'files', filename: 'a', contentType: 'x/y', file: { path: a.path, size } }]);
        await expect(collect(body.open())).rejects.toThrow(/changed while uploading/);
      }
    }
  });
});

describe('jsonArrayBody', () => {
  it('streams Base64 in chunks that decode to the original bytes', async () => {
    const sizes = [0, 1, 2, 3, 262_145, 1_000_000];
    const files = await Promise.all(sizes.map(fixture));
    const body = jsonArrayBody({ batch_id: 'b"1' }, 'images', [
      ...files.map((f, i) => ({ fields: { image_name: `n${i}` }, base64Field: 'image_base64', file: { path: f.path, size: f.data.length } })),
      { fields: { image_name: 'u', image_url: 'http://x/u.png' } },
    ]);
    const raw = await collect(body.open());
    expect(raw.length).toBe(body.length);
    const parsed = JSON.parse(raw.toString('utf8'));
    expect(parsed.batch_id).toBe('b"1');
    expect(parsed.images).toHaveLength(sizes.length + 1);
    files.forEach((f, i) => expect(Buffer.from(parsed.images[i].image_base64, 'base64').equals(f.data)).toBe(true));
    expect(parsed.images.at(-1)).toEqual({ image_name: 'u', image_url: 'http://x/u.png' });
    expect(base64Length(4)).toBe(8);
  });
});

describe('rawFileBody', () => {
  /** Like an HTTP client with a Content-Length: stops pulling once it has `length` bytes. */
  async function takeExactly(iter: AsyncIterable<Uint8Array>, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let n = 0;
    const it = iter[Symbol.asyncIterator]();
    while (n < length) {
      const r = await it.next();
      if (r.done) break;
      parts.push(Buffer.from(r.value));
      n += r.value.length;
    }
    return Buffer.concat(parts);
  }

  it.each([
    ['small (one read)', 2 * 1024],
    ['chunked stream', 2 * 1024 * 1024 + 7],
  ])('reports the sha256 of a %s file once its last byte is handed out, without a further pull', async (_label, bytes) => {
    const f = await fixture(bytes);
    let sha: string | undefined;
    const body = rawFileBody({ path: f.path, size: bytes, onDone: (h) => (sha = h) });
    const got = await takeExactly(body.open(), body.length);
    expect(got.equals(f.data)).toBe(true);
    expect(sha).toBe(f.sha);
  });

  it('an empty file still reports its hash', async () => {
    const f = await fixture(0);
    let sha: string | undefined;
    await collect(rawFileBody({ path: f.path, size: 0, onDone: (h) => (sha = h) }).open());
    expect(sha).toBe(f.sha);
  });
});
