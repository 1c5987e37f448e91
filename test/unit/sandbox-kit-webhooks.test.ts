/** The kit's webhook delivery: JSON POSTs in order per key, a timeout, no retries, counted. Loopback only. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost as isLoopback } from '../../src/core/loopback.js';
import { WebhookSender } from '../../src/sandbox/kit/webhooks.js';
import { waitFor } from '../helpers/wait.js';

let origin: string;
let server: Server;
const closing = new AbortController();
/** Every POST the receiver saw, and the webhooks it holds unanswered until a test answers them. */
const seen: string[] = [];
const hooks: { key: string; n: number; res: ServerResponse }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/hook-500') {
      req.resume();
      res.writeHead(500).end();
      return;
    }
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      if (req.headers['content-type'] !== 'application/json') throw new Error('webhook without JSON content type');
      const p = JSON.parse(text) as { key: string; n: number };
      hooks.push({ key: p.key, n: p.n, res });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  closing.abort();
  server.closeAllConnections();
  server.close();
});

describe('webhook delivery', () => {
  const sender = (timeoutMs?: number) => new WebhookSender({ isAllowedHost: isLoopback, signal: closing.signal, timeoutMs });

  it('posts JSON in order per key; other keys go on meanwhile', async () => {
    const w = sender();
    const done = [1, 2, 3].map((n) => w.send('batch-a', `${origin}/hook`, { key: 'a', n }));
    const other = w.send('batch-b', `${origin}/hook`, { key: 'b', n: 1 });
    // a#1 is held unanswered: b#1 arrives anyway, a#2 does not.
    await waitFor(() => hooks.some((h) => h.key === 'a') && hooks.some((h) => h.key === 'b'), 'a#1 and b#1 to arrive');
    expect(hooks.filter((h) => h.key === 'a').map((h) => h.n)).toEqual([1]);
    hooks
      .find((h) => h.key === 'b')!
      .res.writeHead(204)
      .end();
    expect(await other).toMatchObject({ delivered: true, status: 204 });
    for (const n of [1, 2, 3]) {
      await waitFor(() => hooks.some((h) => h.key === 'a' && h.n === n), `a#${n} to arrive`);
      expect(hooks.filter((h) => h.key === 'a').map((h) => h.n)).toEqual([1, 2, 3].slice(0, n)); // never ahead of the answers
      hooks
        .find((h) => h.key === 'a' && h.n === n)!
        .res.writeHead(200)
        .end('ok');
      expect(await done[n - 1]).toMatchObject({ key: 'batch-a', delivered: true, status: 200, payload: { key: 'a', n } });
    }
    await w.idle();
    expect(w.snapshot()).toEqual({ sent: 4, delivered: 4, failed: 0 });
    hooks.length = 0;
  });

  it('gives up after the timeout, never retries, and counts failures', async () => {
    const w = sender(150);
    const before = seen.filter((s) => s === 'POST /hook').length;
    const slow = await w.send('k', `${origin}/hook`, { key: 'slow', n: 1 });
    expect(slow).toMatchObject({ delivered: false, error: 'timeout' });
    expect(seen.filter((s) => s === 'POST /hook').length).toBe(before + 1);
    expect(await w.send('k', `${origin}/hook-500`, {})).toMatchObject({ delivered: false, status: 500, error: 'HTTP 500' });
    expect(await w.send('k', 'http://example.com/hook', {})).toMatchObject({ delivered: false, error: 'not-allowed' });
    expect(w.snapshot()).toEqual({ sent: 3, delivered: 0, failed: 3 });
    expect(w.recent.map((d) => d.error)).toEqual(['timeout', 'HTTP 500', 'not-allowed']);
    for (const h of hooks.splice(0)) h.res.destroy();
  });
});
