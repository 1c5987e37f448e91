/** The kit's outbound fetches on a client's behalf: schemes, allowed hosts, redirects, size cap, first bytes. Loopback only. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutboundFetch } from '../../src/sandbox/kit/fetch.js';
import { isLoopbackHost as isLoopback } from '../../src/core/loopback.js';
import { Stats } from '../../src/sandbox/kit/stats.js';
import { ContentStore } from '../../src/sandbox/kit/store.js';

let dir: string;
let store: ContentStore;
let origin: string;
let server: Server;
const closing = new AbortController();
const body = Buffer.from('0123456789'.repeat(100)); // 1,000 bytes
/** Requests the test server saw (method + path). */
const seen: string[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  const u = new URL(req.url ?? '/', 'http://x');
  seen.push(`${req.method} ${u.pathname}`);
  const hop = /^\/hop\/(\d+)$/.exec(u.pathname);
  if (hop) {
    const n = Number(hop[1]);
    res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/file' }).end();
    return;
  }
  switch (u.pathname) {
    case '/file':
      if (req.headers.range === 'bytes=0-15') {
        res.writeHead(206, { 'content-type': 'image/png', 'content-range': `bytes 0-15/${body.length}`, 'content-length': 16 }).end(body.subarray(0, 16));
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
      return;
    case '/no-range': // ignores Range, streams without a length
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
      return;
    case '/declared-big':
      res.writeHead(200, { 'content-length': 5000 }).end(Buffer.alloc(5000));
      return;
    case '/streamed-big':
      res.writeHead(200);
      res.end(Buffer.alloc(5000));
      return;
    case '/cut':
      res.writeHead(200, { 'content-length': 2000 });
      res.write(Buffer.alloc(100), () => res.destroy());
      return;
    case '/missing':
      res.writeHead(404).end();
      return;
    case '/away':
      res.writeHead(301, { location: 'http://example.com/file' }).end();
      return;
    case '/silent': // never answers
      return;
  }
  res.writeHead(404).end();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'batchup-kit-net-'));
  store = await ContentStore.open(dir, new Stats());
  server = createServer(route);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  closing.abort();
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

const fetcher = (timeoutMs?: number) => new OutboundFetch(store, { isAllowedHost: isLoopback, signal: closing.signal, timeoutMs });

describe('outbound fetch', () => {
  it('streams a body into a temp file of the store, following redirects', async () => {
    const r = await fetcher().toStore(`${origin}/hop/3`, { maxBytes: 4096 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r).toMatchObject({ contentType: 'image/png', url: `${origin}/file` });
    expect(r.ing.size).toBe(body.length);
    expect(await readFile(r.ing.path)).toEqual(body);
    const stored = await store.commit(r.ing);
    expect(store.has(stored.sha256)).toBe(true);
  });

  it('follows at most 5 redirects', async () => {
    expect((await fetcher().toStore(`${origin}/hop/4`, { maxBytes: 4096 })).ok).toBe(true); // 5 redirects
    expect(await fetcher().toStore(`${origin}/hop/5`, { maxBytes: 4096 })).toEqual({ ok: false, reason: 'too-many-redirects' });
  });

  it('caps the size: a declared length at once, a streamed body once it passes the cap (counted on to a limit)', async () => {
    expect(await fetcher().toStore(`${origin}/declared-big`, { maxBytes: 4096 })).toEqual({ ok: false, reason: 'too-large', size: 5000 });
    expect(await fetcher().toStore(`${origin}/streamed-big`, { maxBytes: 4096, countUpTo: 1 << 20 })).toEqual({ ok: false, reason: 'too-large', size: 5000 });
  });

  it('refuses other schemes and hosts it may not reach, on the first hop and on a redirect', async () => {
    const before = seen.length;
    expect(await fetcher().toStore('ftp://127.0.0.1/x', { maxBytes: 10 })).toEqual({ ok: false, reason: 'bad-url' });
    expect(await fetcher().toStore('not a url', { maxBytes: 10 })).toEqual({ ok: false, reason: 'bad-url' });
    expect(await fetcher().toStore('http://example.com/file', { maxBytes: 10 })).toEqual({ ok: false, reason: 'not-allowed' });
    expect(seen.length).toBe(before); // nothing left the machine, nothing reached the server
    expect(await fetcher().toStore(`${origin}/away`, { maxBytes: 10 })).toEqual({ ok: false, reason: 'not-allowed' });
  });

  it('reports statuses, bodies cut short and timeouts', async () => {
    expect(await fetcher().toStore(`${origin}/missing`, { maxBytes: 10 })).toEqual({ ok: false, reason: 'status', status: 404 });
    const cut = await fetcher().toStore(`${origin}/cut`, { maxBytes: 4096 });
    expect(cut.ok).toBe(false);
    expect(['incomplete', 'network']).toContain(!cut.ok && cut.reason);
    expect(await fetcher(150).toStore(`${origin}/silent`, { maxBytes: 10 })).toEqual({ ok: false, reason: 'network', aborted: false });
  });

  it('reads the first bytes with a Range request, or cuts off a server that ignores it', async () => {
    const ranged = await fetcher().firstBytes(`${origin}/file`, 16);
    expect(ranged).toEqual({ ok: true, bytes: body.subarray(0, 16), contentType: 'image/png', size: 1000, url: `${origin}/file` });
    const plain = await fetcher().firstBytes(`${origin}/no-range`, 16);
    expect(plain).toMatchObject({ ok: true, bytes: body.subarray(0, 16), size: undefined });
    expect(await fetcher().firstBytes(`${origin}/missing`, 16)).toEqual({ ok: false, reason: 'status', status: 404 });
  });
});
