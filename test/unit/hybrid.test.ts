/**
 * hybrid: the sandbox's side of the contract (init, presigned PUTs, progress/retry/verify,
 * complete), and the adapter's checks (session shape, integrity, no credentials on presigned URLs).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { LIMITS, MESSAGES } from '../../src/providers/hybrid/contract.js';
import { hybrid } from '../../src/providers/hybrid/index.js';
import { checkSession } from '../../src/providers/hybrid/session.js';
import { planHybrid } from '../../src/providers/hybrid/plan.js';
import type { Item } from '../../src/core/types.js';
import { providerContext } from '../helpers/provider-context.js';
import { rateEta } from '../../src/cli/render/tty.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'hybrid-unit-token';
const H = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const boxes: Sandbox[] = [];

afterEach(async () => {
  while (boxes.length) await boxes.pop()!.close();
});

async function box(opts: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  const sb = await startSandbox({ token: TOKEN, ...opts });
  boxes.push(sb);
  return sb;
}

async function api(sb: Sandbox, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = H) {
  const r = await request(`${sb.url}/api/v1/videos/batch${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.statusCode, body: (await r.body.json()) as any };
}

async function put(url: string, data: Buffer, headers: Record<string, string> = {}) {
  try {
    const r = await request(url, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream', ...headers } });
    const text = await r.body.text();
    return { status: r.statusCode, etag: r.headers.etag as string | undefined, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: 0 as const, etag: undefined, body: undefined };
  }
}

const video = (filename: string, size: number, type = 'video/mp4') => ({ filename, size, type });

describe('sandbox: init', () => {
  it('one session per file, chunked above 150 MiB, with one URL per chunk', async () => {
    const sb = await box();
    const r = await api(sb, 'POST', '/init', { channel_id: '123', files: [video('big.mp4', 151 * MiB), video('small.mp4', 1000)] });
    expect(r.status).toBe(200);
    expect(r.body.success).toBe(true);
    const [big, small] = r.body.data;
    expect(big).toMatchObject({ isChunked: true, totalChunks: 31, chunkSize: LIMITS.chunkSize, status: 'initialized' });
    expect(big.presignedUrls).toHaveLength(31);
    expect(small).toMatchObject({ isChunked: false, totalChunks: 1 });
    expect(small.presignedUrls).toHaveLength(1);
    expect(big.uploadId).not.toBe(small.uploadId);
  });

  it('refuses what the contract refuses', async () => {
    const sb = await box();
    expect((await api(sb, 'POST', '/init', { files: [video('a.mp4', 10)] }, { 'content-type': 'application/json' })).status).toBe(401);
    const six = Array.from({ length: 6 }, (_, i) => video(`v${i}.mp4`, 10));
    expect(await api(sb, 'POST', '/init', { files: six })).toEqual({ status: 400, body: { success: false, message: MESSAGES.tooManyFiles(5) } });
    const png = await api(sb, 'POST', '/init', { files: [video('x.png', 10, 'image/png')] });
    expect(png.body.message).toBe("Unsupported file type 'image/png' for 'x.png'.");
    expect((await api(sb, 'POST', '/init', { files: [] })).status).toBe(400);
    expect((await api(sb, 'POST', '/init', { files: [video('a.mp4', -1)] })).status).toBe(400);
  });
});

describe('sandbox: presigned PUTs', () => {
  it('takes the exact bytes of a part; refuses credentials, changed URLs and wrong sizes', async () => {
    const sb = await box();
    const { data } = (await api(sb, 'POST', '/init', { files: [video('big.mp4', 151 * MiB)] })).body;
    const s = data[0];
    const part1 = randomBytes(LIMITS.chunkSize);

    // An Authorization header on a presigned URL is refused (and counted).
    const withAuth = await put(s.presignedUrls[0], part1, { authorization: `Bearer ${TOKEN}` });
    expect(withAuth.status).toBe(400);
    expect(sb.stats().hybrid.presignedWithAuth).toBe(1);
    // Bound to its part: part 1's URL does not work for part 2, nor with a changed signature.
    expect((await put(s.presignedUrls[0].replace('/1?', '/2?'), part1)).status).toBe(403);
    const forged = s.presignedUrls[0].replace(/signature=(.)/, (_: string, c: string) => `signature=${c === 'x' ? 'y' : 'x'}`);
    expect(forged).not.toBe(s.presignedUrls[0]);
    expect((await put(forged, part1)).status).toBe(403);
    // A body of the wrong length.
    const short = await put(s.presignedUrls[0], Buffer.alloc(10));
    expect(short.status).toBe(400);
    expect(short.body.message).toBe(MESSAGES.wrongChunkSize(1, LIMITS.chunkSize, 10));

    const good = await put(s.presignedUrls[0], part1);
    expect(good.status).toBe(200);
    expect(good.etag).toMatch(/^"[0-9a-f]{8}"$/);
    const v = await api(sb, 'GET', `/verify/${s.uploadId}`);
    expect(v.body.data).toEqual([{ partNumber: 1, eTag: good.etag, size: LIMITS.chunkSize, isComplete: true }]);
    const p = await api(sb, 'GET', `/progress/${s.uploadId}`);
    expect(p.body.data).toMatchObject({ status: 'uploading', completedCount: 1, totalChunks: 31, failedChunks: [], progress: 3 });
    expect(sb.stats().hybrid.partsReceived[`${s.uploadId}/1`]).toBe(1);
    // complete with parts missing
    const early = await api(sb, 'POST', `/complete/${s.uploadId}`);
    expect(early.status).toBe(400);
    expect(early.body.message).toBe(MESSAGES.missingParts(Array.from({ length: 30 }, (_, i) => i + 2)));
  });

  it('an expired URL answers 403 and marks its chunk failed; /retry renews failed (or all missing) chunks', async () => {
    let t = Date.now();
    const sb = await box({ clock: () => t, protocolOptions: { hybrid: { presignTtlSec: 60 } } });
    const s = (await api(sb, 'POST', '/init', { files: [video('big.mp4', 151 * MiB)] })).body.data[0];
    t += 61_000; // the URLs expire: no waiting, whatever the machine's load
    const expired = await put(s.presignedUrls[2], randomBytes(LIMITS.chunkSize));
    expect(expired).toMatchObject({ status: 403, body: { success: false, message: MESSAGES.urlExpired } });
    expect((await api(sb, 'GET', `/progress/${s.uploadId}`)).body.data).toMatchObject({ failedChunks: [2], status: 'error' });
    const retry = await api(sb, 'POST', `/retry/${s.uploadId}`);
    expect(retry.body.data.map((x: any) => x.chunkIndex)).toEqual([2]);
    const ok = await put(retry.body.data[0].url, randomBytes(LIMITS.chunkSize));
    expect(ok.status).toBe(200);
    expect((await api(sb, 'GET', `/progress/${s.uploadId}`)).body.data.failedChunks).toEqual([]);
    const all = await api(sb, 'POST', `/retry/${s.uploadId}?missing=1`);
    expect(all.body.data).toHaveLength(30);
    expect(all.body.data.some((x: any) => x.chunkIndex === 2)).toBe(false);
  });

  it("a 'cut' fault breaks the body off halfway: failed chunk, partial size in /verify", async () => {
    const sb = await box({ protocolOptions: { hybrid: { partFaultRate: 1, partFaultKinds: ['cut'] } } });
    const s = (await api(sb, 'POST', '/init', { files: [video('big.mp4', 151 * MiB)] })).body.data[0];
    const r = await put(s.presignedUrls[0], randomBytes(LIMITS.chunkSize));
    expect(r.status).toBe(0); // the connection broke
    // The server notices the broken body a moment later.
    await waitFor(async () => (await api(sb, 'GET', `/progress/${s.uploadId}`)).body.data.failedChunks.length > 0, 'the cut chunk to be marked failed');
    expect((await api(sb, 'GET', `/progress/${s.uploadId}`)).body.data.failedChunks).toEqual([0]);
    const v = (await api(sb, 'GET', `/verify/${s.uploadId}`)).body.data;
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ partNumber: 1, isComplete: false });
    expect(v[0].size).toBeLessThanOrEqual(LIMITS.chunkSize / 2);
    expect(sb.stats().faultsInjected['part-cut']).toBe(1);
  });
});

describe('sandbox: raw PUT (the benchmark baseline)', () => {
  it('streams a long body to the store without piling up stream listeners', async () => {
    const sb = await box();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const data = randomBytes(48 * MiB);
      const r = await put(`${sb.url}/_sandbox/hybrid/raw/long.bin`, data);
      expect(r.status).toBe(200);
      expect(r.body.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      await new Promise((ok) => setImmediate(ok)); // warnings are emitted on the next tick
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('sandbox: complete', () => {
  it('assembles, stores content-addressed, serves it back; then the upload is gone but complete repeats', async () => {
    const sb = await box();
    const bytes = randomBytes(300_000);
    const s = (await api(sb, 'POST', '/init', { files: [video('clip one.mp4', bytes.length)] })).body.data[0];
    expect((await put(s.presignedUrls[0], bytes)).status).toBe(200);
    const done = await api(sb, 'POST', `/complete/${s.uploadId}`);
    expect(done.status).toBe(200);
    const rec = done.body.data;
    expect(rec).toMatchObject({ title: 'clip one', status: 'processing', size: bytes.length, sha256: sha(bytes) });
    expect(rec.video_path).toBe(`/cdn/${sha(bytes)}.mp4`);
    const got = await request(`${sb.url}${rec.video_path}`);
    expect(sha(Buffer.from(await got.body.arrayBuffer()))).toBe(sha(bytes));
    expect(await api(sb, 'GET', `/progress/${s.uploadId}`)).toEqual({ status: 404, body: { success: false, message: MESSAGES.notFound } });
    expect((await api(sb, 'GET', `/verify/${s.uploadId}`)).status).toBe(404);
    expect((await api(sb, 'POST', `/complete/${s.uploadId}`)).body.data).toEqual(rec);
    expect((await api(sb, 'POST', '/complete/nope')).status).toBe(404);
    expect(sb.stats().receipts[sha(bytes)]).toBe(1);
  });

  it('keeps uploads across a restart on the same data folder (parts, and URLs stay valid)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'batchup-hybrid-restart-'));
    try {
      const sb1 = await startSandbox({ token: TOKEN, dataDir });
      const s = (await api(sb1, 'POST', '/init', { files: [video('big.mp4', 151 * MiB)] })).body.data[0];
      expect((await put(s.presignedUrls[0], randomBytes(LIMITS.chunkSize))).status).toBe(200);
      await sb1.close();
      const sb2 = await startSandbox({ token: TOKEN, dataDir, port: Number(new URL(sb1.url).port) });
      boxes.push(sb2);
      expect((await api(sb2, 'GET', `/verify/${s.uploadId}`)).body.data.map((p: any) => p.partNumber)).toEqual([1]);
      expect((await put(s.presignedUrls[1], randomBytes(LIMITS.chunkSize))).status).toBe(200);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('adapter', () => {
  it('checks init sessions: URL count, chunk count, default chunk size', () => {
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://s3.example/p${i}`);
    const size = 151 * MiB;
    expect(
      checkSession({ uploadId: 'u', fileId: 'f', isChunked: true, totalChunks: 31, presignedUrls: urls(31), status: 'initialized' }, size, 'a').chunkSize,
    ).toBe(LIMITS.chunkSize);
    expect(() => checkSession({ uploadId: 'u', fileId: 'f', isChunked: true, totalChunks: 31, presignedUrls: urls(30), status: 'x' }, size, 'a')).toThrow(
      /30 presigned URLs for 31 chunks/,
    );
    expect(() => checkSession({ uploadId: 'u', fileId: 'f', isChunked: true, totalChunks: 30, presignedUrls: urls(30), status: 'x' }, size, 'a')).toThrow(
      /totalChunks 30.*expected 31/,
    );
    expect(() => checkSession({ uploadId: 'u', fileId: 'f', isChunked: false, totalChunks: 1, presignedUrls: ['ftp://x'], status: 'x' }, 10, 'a')).toThrow(
      /scheme/,
    );
    expect(
      checkSession({ uploadId: 'u', fileId: 'f', isChunked: true, totalChunks: 16, chunkSize: 10 * MiB, presignedUrls: urls(16), status: 'x' }, size, 'a')
        .chunkSize,
    ).toBe(10 * MiB);
  });

  it('plans groups of ≤ 5 local files, naming each batch by its paths; takes local files only', () => {
    const items: Item[] = Array.from({ length: 7 }, (_, i) => ({
      source: `/v/${i}.mp4`,
      kind: 'file',
      path: `/v/${i}.mp4`,
      order: i,
      name: `${i}.mp4`,
      size: i === 6 ? 200 * MiB : 10,
      format: 'mp4',
    }));
    const plans = planHybrid({ items, mode: 'auto' });
    expect(plans.map((p) => p.files)).toEqual([4, 3]);
    expect(plans.map((p) => p.mode)).toEqual(['put', 'put+chunked']);
    expect(hybrid.capabilities.inputs).toEqual(['file']);
  });

  it('never sends credentials to presigned URLs (on another origin), and fails an entry whose server sha256 differs', async () => {
    const seen: { path: string; auth?: string; cookie?: string }[] = [];
    const storage = createServer((req, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, cookie: req.headers.cookie });
      req.resume();
      req.on('end', () => res.writeHead(200, { etag: '"x"' }).end());
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
    const storageUrl = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
    const apiCalls: { path: string; auth?: string }[] = [];
    const json = (res: import('node:http').ServerResponse, body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const apiServer = createServer((req: IncomingMessage, res) => {
      apiCalls.push({ path: req.url ?? '', auth: req.headers.authorization });
      req.resume();
      req.on('end', () => {
        if (req.url?.endsWith('/init')) {
          return json(res, {
            success: true,
            data: [
              { uploadId: 'u1', fileId: 'f1', isChunked: false, totalChunks: 1, presignedUrls: [`${storageUrl}/bucket/u1?sig=abc`], status: 'initialized' },
            ],
          });
        }
        if (req.url?.includes('/complete/')) {
          return json(res, {
            success: true,
            data: { id: 'v1', title: 'a', video_path: 'https://cdn.example/v1.mp4', status: 'processing', size: 5000, sha256: '0'.repeat(64) },
          });
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
    const dir = await mkdtemp(join(tmpdir(), 'batchup-hybrid-unit-'));
    const path = join(dir, 'a.mp4');
    await writeFile(path, randomBytes(5000));
    const ctx = providerContext({ endpoint, token: TOKEN, options: {}, retry: { maxRetries: 0 } });
    const { http, events } = ctx;
    try {
      const item: Item = { source: path, kind: 'file', path, order: 0, name: 'a.mp4', size: 5000, mtimeMs: 1, format: 'mp4' };
      const [batch] = planHybrid({ items: [item], mode: 'auto' });
      const [entry] = await hybrid.open(ctx).runBatch(batch!);
      expect(entry).toMatchObject({ status: 'failed', code: 'REMOTE' });
      expect(entry!.error).toMatch(/integrity check failed/);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toEqual({ path: '/bucket/u1?sig=abc', auth: undefined, cookie: undefined });
      expect(apiCalls.every((c) => c.auth === `Bearer ${TOKEN}`)).toBe(true);
      expect(events.some((e) => e.type === 'file-progress' && e.sent === 5000)).toBe(true);
    } finally {
      await http.close();
      storage.close();
      apiServer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('adapter: resume', () => {
  it('an interrupted file resumes from /verify, sending only the missing chunks; a completed file is settled at once', async () => {
    const sb = await box();
    const dir = await mkdtemp(join(tmpdir(), 'batchup-hybrid-resume-'));
    const path = join(dir, 'big.mp4');
    const size = 160 * MiB + 777;
    const { writeMp4 } = await import('../../src/devtools/video.js');
    await writeMp4(path, size, { sparse: true });
    const kv = new Map<string, unknown>();
    const mkCtx = (signal?: AbortSignal, onEvent?: Parameters<typeof providerContext>[0]['onEvent']) =>
      providerContext({ endpoint: sb.url, token: TOKEN, options: {}, kv, signal, onEvent });
    const http = mkCtx().http;
    const item: Item = { source: path, kind: 'file', path, order: 0, name: 'big.mp4', size, mtimeMs: 1, format: 'mp4' };
    const [batch] = planHybrid({ items: [item], mode: 'auto' });
    try {
      // 1. Interrupted at ~40%.
      const ctl = new AbortController();
      const [first] = await hybrid
        .open(
          mkCtx(ctl.signal, (e) => {
            if (e.type === 'file-progress' && e.sent >= size * 0.4) ctl.abort();
          }),
        )
        .runBatch(batch!);
      expect(first).toMatchObject({ status: 'failed', code: 'INTERRUPTED' });
      const atStop = sb.stats().hybrid.partBytesReceived;
      expect(atStop).toBeGreaterThan(size * 0.35);
      expect([...kv.values()][0]).toMatchObject({ isChunked: true, totalChunks: 33, chunkSize: LIMITS.chunkSize });

      // 2. The same file again, as a new process would once the first one's connections closed:
      // the server has finished with the cut-off parts (else it answers 409, part busy — a retry
      // with this test's 5 ms backoff could still find one busy on a loaded machine).
      await waitFor(() => sb.stats().handling === 0, 'the interrupted parts released');
      const ctx2 = mkCtx();
      const [second] = await hybrid.open(ctx2).runBatch(batch!);
      expect(second!.status, second!.error).toBe('uploaded');
      const { createReadStream } = await import('node:fs');
      const h = createHash('sha256');
      for await (const c of createReadStream(path)) h.update(c as Buffer);
      expect(second!.sha256).toBe(h.digest('hex'));
      const stats = sb.stats();
      expect(stats.requests['hybrid.init']).toBe(1);
      // One /verify, or two when a chunk the interrupted run was still sending completed between
      // /verify and /retry (the client then asks again instead of failing).
      expect(stats.requests['hybrid.verify']).toBeGreaterThanOrEqual(1);
      expect(stats.requests['hybrid.verify']).toBeLessThanOrEqual(2);
      expect(stats.hybrid.partBytesReceived - atStop).toBeLessThan(size * 0.7);
      expect(stats.hybrid.partBytesReceived).toBeLessThan(size * 1.15);

      // 3. The completed file was settled at once (journaled as done), its resume handle dropped
      //    in the same commit: no later run uploads it again, whatever batch it lands in.
      expect(ctx2.settled.map((x) => x.entries)).toEqual([[second]]);
      expect(kv.size).toBe(0);

      // 4. A fresh batch of the same file uploads it again.
      const [fourth] = await hybrid.open(mkCtx()).runBatch(batch!);
      expect(fourth!.status).toBe('uploaded');
      expect(sb.stats().requests['hybrid.init']).toBe(2);
    } finally {
      await http.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('rateEta', () => {
  it('needs a second of history, then shows rate and ETA', () => {
    expect(rateEta(1000, 500, 10)).toBe('');
    expect(rateEta(10_000_000, 2000, 10_000_000)).toBe(' 5.0 MB/s ETA 2.0 s');
    expect(rateEta(10_000_000, 2000, 0)).toBe(' 5.0 MB/s');
  });
});
