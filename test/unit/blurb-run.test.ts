/**
 * One blurb batch against a scripted API: a partly failed batch keeps its completed renders and
 * a rerun sends only the others; a lost POST answer is UNKNOWN_OUTCOME on every rerun, until
 * `--resubmit REF`; 429 on the POST is sent again (nothing was created).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blurb } from '../../src/providers/blurb/index.js';
import type { BlurbOptions } from '../../src/providers/blurb/options.js';
import { expandSpec } from '../../src/providers/blurb/spec.js';
import { batch } from '../helpers/blurb.js';
import { tempDir } from '../helpers/cli.js';
import { providerContext } from '../helpers/provider-context.js';

type Reply = (body: any, n: number) => { status: number; renders?: { status: string; message?: string }[] } | 'drop';
let server: Server | undefined;
afterEach(() => server?.close());

/** A blurb API whose POST answers are scripted; GET answers what the batch holds. */
async function api(reply: Reply) {
  const posts: any[] = [];
  const batches = new Map<string, any>();
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const send = (status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
      if (req.method === 'GET') return send(200, { success: true, message: 'ok', data: batches.get(req.url!.split('/').pop()!) });
      const body = JSON.parse(text);
      posts.push(body);
      const r = reply(body, posts.length);
      const id = `batch-${posts.length}`;
      const renders = body.renders.map((_: unknown, i: number) => {
        const s = r === 'drop' ? { status: 'COMPLETED' } : (r.renders?.[i] ?? { status: 'COMPLETED' });
        return { renderId: `${id}-r${i}`, progress: 100, ...s, renderUrl: s.status === 'COMPLETED' ? `http://127.0.0.1:1/${id}-r${i}.mp4` : '' };
      });
      batches.set(id, { batchId: id, ref: body.ref, status: 'COMPLETED', renders });
      if (r === 'drop') return req.socket.destroy();
      if (r.status !== 200) return send(r.status, { success: false, message: 'no' });
      send(200, { success: true, message: 'created', data: batches.get(id) });
    });
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  return { endpoint: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, posts };
}

async function planned(renders: number) {
  const dir = await tempDir('batchup-blurb-run-');
  const spec = join(dir, 's.json');
  await writeFile(spec, JSON.stringify(batch('r1', { artwork: 'https://c/a.png', audio: 'https://c/s.mp3' }, renders)));
  const options: BlurbOptions = { sandboxAssets: false, resubmit: [] };
  const { items } = await expandSpec(
    { source: spec, kind: 'file', path: spec, order: 0 },
    { http: undefined as never, options, signal: new AbortController().signal, cwd: dir, concurrency: 1 },
  );
  return { plan: blurb.plan({ items, mode: 'auto' })[0]!, options };
}

describe('blurb run', () => {
  it('a partly failed batch keeps its completed renders: the rerun sends only the failed one', async () => {
    const a = await api((_b, n) =>
      n === 1 ? { status: 200, renders: [{ status: 'COMPLETED' }, { status: 'FAILED', message: 'The audio is not an MP3 file.' }] } : { status: 200 },
    );
    const { plan, options } = await planned(2);
    const kv = new Map<string, unknown>();
    const one = providerContext({ endpoint: a.endpoint, token: 't', options, kv });
    const first = await blurb.open(one).runBatch(plan);
    expect(first.map((e) => e.status)).toEqual(['uploaded', 'failed']);
    expect(first[1]!.error).toContain('FAILED: The audio is not an MP3 file.');
    expect(first[0]!.source.endsWith('#r1!/0')).toBe(true);

    const two = providerContext({ endpoint: a.endpoint, token: 't', options, kv });
    const second = await blurb.open(two).runBatch(plan);
    expect(a.posts).toHaveLength(2);
    expect(a.posts[1].renders).toEqual([a.posts[0].renders[1]]);
    expect(second.map((e) => e.status)).toEqual(['uploaded', 'uploaded']);
    expect(second[0]).toEqual(first[0]); // carried as it was
    expect(second[1]!.url).toBe('http://127.0.0.1:1/batch-2-r0.mp4');
    expect([...kv.keys()]).toEqual([]); // handles dropped once complete
  });

  it('a lost POST answer is UNKNOWN_OUTCOME, on every rerun too, until --resubmit REF; a 429 is simply sent again', async () => {
    const a = await api((_b, n) => (n === 1 ? 'drop' : n === 2 ? { status: 429 } : { status: 200 }));
    const { plan, options } = await planned(1);
    const kv = new Map<string, unknown>();
    const run = (o: BlurbOptions) => blurb.open(providerContext({ endpoint: a.endpoint, token: 't', options: o, kv })).runBatch(plan);
    await expect(run(options)).rejects.toMatchObject({ code: 'UNKNOWN_OUTCOME' });
    const again = run(options);
    await expect(again).rejects.toMatchObject({ code: 'UNKNOWN_OUTCOME' });
    await expect(again).rejects.toThrow(/check the vendor's records for ref 'r1'; to send it again: --resubmit r1/);
    expect(a.posts).toHaveLength(1);
    const entries = await run({ ...options, resubmit: ['r1'] });
    expect(a.posts).toHaveLength(3); // the 429 (not created), then the batch
    expect(entries.map((e) => e.status)).toEqual(['uploaded']);
  });
});
