/**
 * Core pieces the job providers build on, against real local servers: probing a URL's first
 * bytes (redirects, dead links, disguised content), --download (names, no overwrites, resumable),
 * jobs submitted once (handles), and a manifest as a URL list.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Downloader } from '../../src/core/download.js';
import { BatchupError } from '../../src/core/errors.js';
import { submitOnce } from '../../src/core/handles.js';
import { Http } from '../../src/core/http.js';
import type { ManifestEntry } from '../../src/core/manifest.js';
import { probeUrl } from '../../src/core/probe.js';
import { urlsOf } from '../../src/core/scan.js';
import { inspectHead } from '../../src/core/validate/index.js';
import { makePdf } from '../../src/devtools/documents.js';
import { makePng } from '../../src/devtools/generate.js';
import { bachPolicy } from '../../src/providers/bach/policy.js';

const png = makePng(7);
const pdf = makePdf(7, { minBytes: 100_000 });
let server: Server;
let base: string;
const seen: { url: string; range?: string; auth?: string }[] = [];
const http = new Http({ timeoutMs: 5000 });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'batchup-remote-'));
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', range: req.headers.range, auth: req.headers.authorization });
    const send = (type: string, body: Buffer) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (m && req.url !== '/no-range.png') {
        const part = body.subarray(Number(m[1]), Number(m[2]) + 1);
        return res.writeHead(206, { 'content-type': type, 'content-range': `bytes ${m[1]}-${Number(m[1]) + part.length - 1}/${body.length}` }).end(part);
      }
      res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
    };
    if (req.url === '/moved.png') return res.writeHead(302, { location: '/a.png' }).end();
    if (req.url === '/a.png' || req.url === '/no-range.png' || req.url === '/out/edited') return send('image/png', png);
    if (req.url === '/report.jpg') return send('image/jpeg', pdf); // a PDF that calls itself a JPEG
    if (req.url === '/flaky.png') return res.writeHead(503).end();
    res.writeHead(404).end('not here');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await http.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('probeUrl + inspectHead', () => {
  it('reads only the first bytes (Range), follows redirects, learns the size; judges by content', async () => {
    const p = await probeUrl(http, `${base}/moved.png`, { bytes: 100 });
    expect(p.ok && p.url).toBe(`${base}/a.png`);
    expect(p.ok && p.head.length).toBe(100);
    expect(p.ok && p.size).toBe(png.length);
    expect(seen.filter((s) => s.url === '/a.png').at(-1)?.range).toBe('bytes=0-99');
    expect(await inspectHead(p.ok ? p.head : Buffer.alloc(0), 'moved.png', bachPolicy, p.ok ? p.size : undefined)).toEqual({ format: 'png' });
    const whole = await probeUrl(http, `${base}/no-range.png`, { bytes: 100 });
    expect(whole.ok && [whole.status, whole.head.length, whole.size]).toEqual([200, 100, png.length]);
  });

  it('a dead or failing URL is named with its status; a PDF named .jpg is disguised', async () => {
    expect(await probeUrl(http, `${base}/gone.png`)).toEqual({ ok: false, status: 404, reason: 'HTTP 404' });
    expect(await probeUrl(http, `${base}/flaky.png`, { maxRetries: 1 })).toMatchObject({ ok: false, status: 503 });
    expect(await probeUrl(http, 'http://127.0.0.1:9/x.png', { maxRetries: 0 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/unreachable \(.*ECONNREFUSED/),
    });
    const p = await probeUrl(http, `${base}/report.jpg`);
    await expect(inspectHead(p.ok ? p.head : Buffer.alloc(0), 'report.jpg', bachPolicy)).rejects.toMatchObject({ rule: 'disguised' });
    expect(seen.every((s) => s.auth === undefined)).toBe(true);
  });
});

describe('Downloader', () => {
  const entry = (source: string, url: string, name?: string): ManifestEntry => ({ source, status: 'uploaded', provider: 'x', url, name });

  it('names outputs from the input and the real format, never overwriting another; keeps what is on disk', async () => {
    const out = join(dir, 'dl');
    const d = new Downloader({ http, dir: out });
    const a = await d.save(entry('/in/a.jpg', `${base}/out/edited`, 'a.jpg'));
    const b = await d.save(entry('/other/a.webp', `${base}/out/edited`, 'a.webp'));
    expect(a.entry.download?.path).toBe(join(out, 'a.png'));
    expect(b.entry.download?.path).toBe(join(out, 'a-2.png'));
    expect(a.entry.download?.sha256).toBe(createHash('sha256').update(png).digest('hex'));
    expect((await readFile(a.entry.download!.path)).equals(png)).toBe(true);
    // A rerun with the earlier download recorded and still on disk fetches nothing.
    const before = seen.length;
    const again = await new Downloader({ http, dir: out }).save(a.entry);
    expect(again.entry.download).toEqual(a.entry.download);
    expect(seen.length).toBe(before);
    expect((await readdir(out)).sort()).toEqual(['a-2.png', 'a.png']);
  });

  it('a bucket URI is skipped with a note; a failed download is reported, not thrown', async () => {
    const d = new Downloader({ http, dir: join(dir, 'dl2'), retry: { maxRetries: 0 } });
    expect((await d.save(entry('storage://s/in/x.png', 's3://bucket/out/x.png'))).note).toMatch(/not a download link/);
    expect((await d.save(entry('/in/y.png', `${base}/gone`))).error).toMatch(/download of .* failed: HTTP 404/);
  });
});

describe('submitOnce', () => {
  const memory = () => {
    const kv = new Map<string, unknown>();
    return {
      kv,
      state: { get: <T>(k: string) => kv.get(k) as T | undefined, put: (k: string, v: unknown) => void (v === null ? kv.delete(k) : kv.set(k, v)) },
    };
  };

  it('journals before and after; a rerun adopts the id instead of submitting again', async () => {
    const { state } = memory();
    let calls = 0;
    const submit = async () => `job-${++calls}`;
    expect(await submitOnce({ state, key: 'k', now: Date.now, lostAnswer: 'fail', submit })).toEqual({ id: 'job-1', adopted: false });
    expect(await submitOnce({ state, key: 'k', now: Date.now, lostAnswer: 'fail', submit })).toEqual({ id: 'job-1', adopted: true });
    expect(calls).toBe(1);
    expect((await submitOnce({ state, key: 'k', now: Date.now, lostAnswer: 'fail', submit, force: true })).id).toBe('job-2');
  });

  it('a lost answer: fail (UNKNOWN_OUTCOME) or resubmit, as the provider declares; a refusal leaves no handle', async () => {
    const { state, kv } = memory();
    const lost = () => Promise.reject(new BatchupError('NETWORK', 'reset'));
    await expect(submitOnce({ state, key: 'k', now: Date.now, lostAnswer: 'fail', submit: lost })).rejects.toThrow('reset');
    await expect(submitOnce({ state, key: 'k', now: Date.now, lostAnswer: 'fail', submit: async () => 'x' })).rejects.toMatchObject({
      code: 'UNKNOWN_OUTCOME',
    });
    expect(await submitOnce({ state, key: 'k', now: Date.now, lostAnswer: 'resubmit', submit: async () => 'y' })).toEqual({ id: 'y', adopted: false });
    const refused = () => Promise.reject(new BatchupError('HTTP', 'bad body', { status: 400 }));
    await expect(submitOnce({ state, key: 'r', now: Date.now, lostAnswer: 'fail', submit: refused })).rejects.toThrow('bad body');
    expect(kv.has('r')).toBe(false);
  });
});

describe('a manifest as a URL list', () => {
  it("takes the uploaded (and carried-forward) entries' URLs, in order; plain lists as before", async () => {
    const m = {
      version: 1,
      entries: [
        { source: '/a', status: 'uploaded', url: 'https://cdn/a.png' },
        { source: '/b', status: 'rejected' },
        { source: '/c', status: 'skipped', url: 'https://cdn/c.png' },
        { source: '/d', status: 'failed', url: 'https://cdn/d.png' },
      ],
    };
    expect(urlsOf(JSON.stringify(m))).toEqual(['https://cdn/a.png', 'https://cdn/c.png']);
    expect(urlsOf('https://x/1.png\n# c\n\nhttps://x/2.png # trailing\n')).toEqual(['https://x/1.png', 'https://x/2.png']);
    const p = join(dir, 'm.json');
    await writeFile(p, JSON.stringify(m));
    expect(urlsOf(await readFile(p, 'utf8'))).toHaveLength(2);
  });
});
