/** The sandbox's --cdn-ttl on a held clock: 410 Gone once the TTL has passed since the object was stored; storing the same bytes renews it. */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { defineProtocol } from '../../src/sandbox/kit/protocol.js';

const boxes: Sandbox[] = [];
afterEach(async () => {
  for (const b of boxes.splice(0)) await b.close();
});

/** A protocol that only stores what it is sent and answers its CDN URL. */
const keep = defineProtocol({
  name: 'keep',
  endpointPath: '/keep',
  summary: 'stores bodies',
  options: {},
  async create(core) {
    return {
      routes: [
        {
          method: 'PUT',
          path: '/keep/object',
          name: 'keep.put',
          async handle(ctx) {
            const { sha256 } = await core.store.commit(await core.store.ingest(ctx.req as AsyncIterable<Buffer>));
            return ctx.json(200, { url: core.cdnUrl(sha256, 'png') });
          },
        },
      ],
      errorBody: (status, message) => ({ status, message }),
    };
  },
});

describe('sandbox --cdn-ttl', () => {
  it('a URL answers until the TTL has passed, then 410; storing the same bytes again renews it', async () => {
    let now = 1_000_000;
    const sb = await startSandbox({ protocols: [keep], clock: () => now, cdnTtlSec: 10 });
    boxes.push(sb);
    const put = async () => ((await (await request(`${sb.url}/keep/object`, { method: 'PUT', body: 'same bytes' })).body.json()) as { url: string }).url;
    const status = async (url: string, method: 'GET' | 'HEAD' = 'HEAD') => {
      const r = await request(url, { method });
      await r.body.dump();
      return r.statusCode;
    };
    const url = await put();
    now += 9_999;
    expect(await status(url)).toBe(200);
    expect(await status(url, 'GET')).toBe(200);
    now += 1;
    expect(await status(url)).toBe(410);
    expect(await status(url, 'GET')).toBe(410);
    expect(await put()).toBe(url);
    expect(await status(url)).toBe(200);
    now += 10_000;
    expect(await status(url)).toBe(410);
  });

  it('without a TTL (the default) URLs never expire; a bad TTL is refused', async () => {
    let now = 0;
    const sb = await startSandbox({ protocols: [keep], clock: () => now });
    boxes.push(sb);
    const url = ((await (await request(`${sb.url}/keep/object`, { method: 'PUT', body: 'x' })).body.json()) as { url: string }).url;
    now += 400 * 86_400_000;
    expect((await request(url, { method: 'HEAD' })).statusCode).toBe(200);
    await expect(startSandbox({ protocols: [keep], cdnTtlSec: -1 })).rejects.toThrow(/cdnTtlSec/);
  });
});
