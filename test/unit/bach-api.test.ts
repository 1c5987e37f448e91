/**
 * The bach client against answers the sandbox never gives (the vendor's other pages use code 0
 * for success): a tiny local server plays those.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http } from '../../src/core/http.js';
import { BachApi } from '../../src/providers/bach/api.js';
import { BachAuth, bachCredentials } from '../../src/providers/bach/auth.js';
import { jsonArrayBody } from '../../src/core/bodies.js';
import type { BatchupError } from '../../src/core/errors.js';

let server: Server;
let base: string;
const answers: Record<string, { status: number; body: unknown; headers?: Record<string, string> }> = {};
const seenAuth: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seenAuth.push(req.headers.authorization ?? '');
    req.resume();
    req.on('end', () => {
      const a = answers[`${req.method} ${req.url}`] ?? { status: 404, body: { code: 1203, message: 'Batch ID does not exist or has expired.' } };
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/vdr`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const api = (auth = { token: 'tok' }) => new BachApi(new Http({ timeoutMs: 5000, credentials: bachCredentials(auth, base, Date.now) }), base);
const body = () => jsonArrayBody({ batch_id: 'b1' }, 'images', [{ fields: { image_name: 'a.png', image_url: 'http://x/a.png' } }]);

describe('bach client envelopes', () => {
  it('takes code 0 as success as well as code 200', async () => {
    answers['POST /api/vdr/batch-upload/submit'] = {
      status: 200,
      body: { code: 0, message: 'ok', data: { batch_id: 'b1', total_count: 1, message: 'm', status: 'TASK_PENDING' } },
    };
    expect((await api().submit('async', body())).batch_id).toBe('b1');
    answers['GET /api/vdr/batch-upload/status/b1'] = {
      status: 200,
      body: {
        code: 200,
        message: 'success',
        data: { batch_id: 'b1', total_count: 1, processed_count: 1, success_count: 1, failed_count: 0, status: 'TASK_SUCCEEDED', results: [] },
      },
    };
    expect((await api().status('b1'))!.status).toBe('TASK_SUCCEEDED');
    expect(seenAuth.at(-1)).toBe('Bearer tok');
  });

  it('a 404 with code 1203 is "unknown batch", not an error', async () => {
    expect(await api().status('nope')).toBeUndefined();
  });

  it("surfaces the server's own message; 4xx are final, 429 carries Retry-After", async () => {
    answers['POST /api/vdr/batch-upload/submit'] = {
      status: 400,
      body: { code: 1000, message: "The 1st file 'document.pdf' extension 'pdf' is not supported." },
    };
    const err = (await api()
      .submit('async', body())
      .catch((e) => e)) as BatchupError;
    expect(err.message).toContain("The 1st file 'document.pdf' extension 'pdf' is not supported.");
    expect(err.retryable).toBe(false);
    answers['POST /api/vdr/batch-upload/submit'] = { status: 429, body: { code: 429, message: 'slow down' }, headers: { 'retry-after': '7' } };
    const busy = (await api()
      .submit('async', body())
      .catch((e) => e)) as BatchupError;
    expect(busy.retryable).toBe(true);
    expect(busy.retryAfter).toBe(7);
    answers['POST /api/vdr/batch-upload/submit'] = { status: 200, body: { code: 1000, message: 'odd' } };
    const odd = (await api()
      .submit('async', body())
      .catch((e) => e)) as BatchupError;
    expect(odd.code).toBe('PROTOCOL');
    expect(odd.message).toContain('odd');
  });

  it('mints an HS256 JWT from a key pair (iss = AccessKey, nbf 5 s back) and reuses it', async () => {
    const { jwtVerify } = await import('jose');
    const auth = new BachAuth({ accessKey: 'AK', secretKey: 'SK-secret' }, () => 1_800_000_000_000);
    const h1 = await auth.header();
    expect(await auth.header()).toBe(h1);
    const { payload, protectedHeader } = await jwtVerify(h1.slice(7), new TextEncoder().encode('SK-secret'), { currentDate: new Date(1_800_000_000_000) });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.iss).toBe('AK');
    expect(payload.nbf).toBe(1_800_000_000 - 5);
    expect(() => new BachAuth({})).toThrow(/BATCHUP_TOKEN/);
    expect(() => new BachAuth({ accessKey: 'AK' })).toThrow(/incomplete/);
  });
});
