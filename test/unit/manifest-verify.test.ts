/** verify's questions to a server of its own: HEAD, a one-byte GET where HEAD is refused, retries, expiry. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Http } from '../../src/core/http.js';
import { verifyManifest } from '../../src/core/manifest-verify.js';
import type { Manifest } from '../../src/core/manifest.js';

let server: Server;
let base: string;
const seen: string[] = [];
let flaky = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.range ?? ''}`.trim());
    const path = req.url!;
    const head = req.method === 'HEAD';
    if (path === '/ok') return res.writeHead(200, { 'content-length': 3 }).end(head ? undefined : 'abc');
    if (path === '/no-head') return head ? res.writeHead(405).end() : res.writeHead(206, { 'content-range': 'bytes 0-0/3' }).end('a');
    if (path === '/signed') return head ? res.writeHead(403).end() : res.writeHead(206).end('a');
    if (path === '/expired-signature') return res.writeHead(403).end();
    if (path === '/flaky') return ++flaky < 2 ? res.writeHead(503).end() : res.writeHead(200).end();
    if (path === '/moved') return res.writeHead(301, { location: '/ok' }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const manifest = (entries: { path: string; expiresAt?: string; status?: 'uploaded' | 'skipped' | 'failed' }[]): Manifest => ({
  version: 1,
  tool: 'batchup',
  provider: 'bach',
  createdAt: '',
  updatedAt: '',
  entries: entries.map((e, i) => ({
    source: `/m/${i}.png`,
    status: e.status ?? 'uploaded',
    provider: 'bach',
    url: e.path.includes('://') ? e.path : `${base}${e.path}`,
    expiresAt: e.expiresAt,
  })),
});

describe('verifyManifest', () => {
  it('HEAD first; a one-byte GET where HEAD is refused (405, 403); redirects followed; 5xx retried; 4xx dead', async () => {
    const now = Date.parse('2026-12-06T00:00:00Z');
    const http = new Http({ timeoutMs: 5000 });
    const checks = await verifyManifest(
      manifest([
        { path: '/ok', expiresAt: '2027-01-05T00:00:00.000Z' },
        { path: '/ok', expiresAt: '2026-12-08T00:00:00.000Z' },
        { path: '/no-head' },
        { path: '/signed' },
        { path: '/expired-signature' },
        { path: '/gone' },
        { path: '/flaky' },
        { path: '/moved' },
        { path: 's3://bucket/key.png' },
        { path: '/failed-one', status: 'failed' },
      ]),
      { http, withinMs: 3 * 86_400_000, concurrency: 2, now, maxRetries: 2 },
    );
    await http.close();
    const by = Object.fromEntries(checks.map((c) => [new URL(c.url).pathname || c.url, c]));
    // One URL named by two entries: checked once, the earliest expiry counts (within 3 days).
    expect(by['/ok']).toMatchObject({ state: 'expiring', status: 200, sources: ['/m/0.png', '/m/1.png'], expiresAt: '2026-12-08T00:00:00.000Z' });
    expect(by['/no-head']).toMatchObject({ state: 'ok', status: 206 });
    expect(by['/signed']).toMatchObject({ state: 'ok', status: 206 });
    expect(by['/expired-signature']).toMatchObject({ state: 'dead', status: 403 });
    expect(by['/gone']).toMatchObject({ state: 'dead', status: 404, reason: 'HTTP 404 (not found)' });
    expect(by['/flaky']).toMatchObject({ state: 'ok', status: 200 });
    expect(by['/moved']).toMatchObject({ state: 'ok', status: 200 });
    expect(checks.find((c) => c.url.startsWith('s3:'))).toMatchObject({ state: 'skipped' });
    expect(checks.some((c) => c.url.endsWith('/failed-one'))).toBe(false);
    expect(seen).toContain('GET /no-head bytes=0-0');
    expect(seen.filter((s) => s.startsWith('HEAD /ok'))).toHaveLength(2); // once for /ok, once after /moved
  });
});
