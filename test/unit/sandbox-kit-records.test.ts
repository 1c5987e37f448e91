/** The kit's persistence (JsonRecords, atomic writes) and bounded JSON body reading. */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { RequestContext } from '../../src/sandbox/kit/context.js';
import { JsonBodyError, readJson, readJsonOr, type ReadJsonOptions } from '../../src/sandbox/kit/json-body.js';
import { JsonRecords, writeFileAtomic } from '../../src/sandbox/kit/records.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'batchup-kit-'));
  dirs.push(d);
  return d;
};

interface Rec {
  id: string;
  n: number;
}
const open = (dir: string, log?: (l: string) => void) => JsonRecords.open<Rec>(dir, { idOf: (r) => r.id, log });

describe('JsonRecords', () => {
  it('writes one file per record and loads them all on open', async () => {
    const dir = await tempDir();
    const a = await open(dir);
    await a.put({ id: 'x', n: 1 });
    await a.put({ id: 'y/with slash', n: 2 });
    const rec = a.get('x')!;
    rec.n = 3;
    await a.save('x');
    expect((await readdir(dir)).filter((f) => f.endsWith('.json'))).toHaveLength(2);
    const b = await open(dir);
    expect(b.size).toBe(2);
    expect(b.get('x')).toEqual({ id: 'x', n: 3 });
    expect(b.get('y/with slash')).toEqual({ id: 'y/with slash', n: 2 });
  });

  it('saves asked for while a write is queued share it; the file ends with the latest value', async () => {
    const dir = await tempDir();
    const s = await open(dir);
    const rec: Rec = { id: 'r', n: 0 };
    const first = s.put(rec);
    const joined: Promise<void>[] = [];
    for (let i = 1; i <= 50; i++) {
      rec.n = i;
      joined.push(s.save('r'));
    }
    // The first write had not started when they were asked for: it covers all 50.
    expect(new Set(joined).size).toBe(1);
    expect(joined[0]).toBe(first);
    await s.flush();
    expect(JSON.parse(await readFile(join(dir, (await readdir(dir))[0]!), 'utf8'))).toEqual({ id: 'r', n: 50 });
  });

  it('delete removes the file, even when a save of it was queued', async () => {
    const dir = await tempDir();
    const s = await open(dir);
    await s.put({ id: 'gone', n: 1 });
    void s.save('gone');
    await s.delete('gone');
    await s.flush();
    expect(s.has('gone')).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    expect((await open(dir)).size).toBe(0);
  });

  it('skips unreadable or unaccepted files (logged) and names files as told', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'torn.json'), '{"id": "t", "n":');
    await writeFile(join(dir, 'other.json'), '{"kind": "not a record"}');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const lines: string[] = [];
    const s = await JsonRecords.open<Rec>(dir, {
      idOf: (r) => r.id,
      accept: (raw): raw is Rec => typeof (raw as Rec).id === 'string',
      fileNameOf: (id) => `rec-${id}`,
      log: (l) => lines.push(l),
    });
    expect(s.size).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('torn.json');
    await s.put({ id: '7', n: 7 });
    expect(JSON.parse(await readFile(join(dir, 'rec-7.json'), 'utf8'))).toEqual({ id: '7', n: 7 });
  });

  it('writeFileAtomic leaves no temp file and can set a mode', async () => {
    const dir = await tempDir();
    const p = join(dir, 'key');
    await writeFileAtomic(p, Buffer.from('secret'), 0o600);
    await writeFileAtomic(p, 'again');
    expect(await readdir(dir)).toEqual(['key']);
    expect(await readFile(p, 'utf8')).toBe('again');
    await expect(writeFileAtomic(join(dir, 'missing', 'x'), 'y')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['key']);
  });
});

/** A server whose one route reads the body with `read` and reports what came out. */
async function bodyServer(read: (ctx: RequestContext) => Promise<unknown>) {
  const outcomes: unknown[] = [];
  let seen = 0;
  const server = createServer(async (req, res) => {
    seen++;
    const ctx = new RequestContext(req, res, new URL(req.url ?? '/', 'http://x'), {}, { checkAuth: async () => true, signal: new AbortController().signal });
    try {
      const v = await read(ctx);
      outcomes.push({ value: v });
      if (!res.headersSent && !ctx.gone) await ctx.json(200, { value: v ?? null });
    } catch (err) {
      outcomes.push({ error: err });
      if (!ctx.gone) await ctx.refuse(400, { problem: err instanceof JsonBodyError ? err.problem : 'other', message: (err as Error).message });
    }
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const post = async (body: string) => {
    const r = await request(url, { method: 'POST', body });
    return { status: r.statusCode, body: (await r.body.json()) as any };
  };
  return { url, post, outcomes, seen: () => seen };
}

describe('readJson', () => {
  const reader = (opts?: ReadJsonOptions) => (ctx: RequestContext) => readJson(ctx, opts as never);

  it('parses an object; names each body problem', async () => {
    const { post } = await bodyServer(reader({ maxBytes: 64 }));
    expect(await post('{"a":1}')).toEqual({ status: 200, body: { value: { a: 1 } } });
    expect(await post('')).toEqual({ status: 400, body: { problem: 'not-an-object', message: 'the body must be a JSON object' } });
    expect((await post('[1]')).body.problem).toBe('not-an-object');
    const bad = await post('{"a":');
    expect(bad.body.problem).toBe('malformed');
    expect(bad.body.message).toMatch(/^malformed JSON \(.+\)$/);
    expect(await post(`{"a":"${'x'.repeat(100)}"}`)).toEqual({ status: 400, body: { problem: 'too-large', message: 'the body is too large' } });
    // A large one too: the rest of it is drained, so the answer arrives.
    expect((await post(`{"a":"${'x'.repeat(4 * 1024 * 1024)}"}`)).body.problem).toBe('too-large');
  });

  it('takes any JSON value when no object is required', async () => {
    const { post } = await bodyServer(reader({ object: false }));
    expect(await post('[1,2]')).toEqual({ status: 200, body: { value: [1, 2] } });
    expect(await post('')).toEqual({ status: 200, body: { value: null } });
  });

  it('readJsonOr answers a body problem through the protocol, and drops a client that went away', async () => {
    const { url, post, outcomes, seen } = await bodyServer((ctx) => readJsonOr(ctx, (err) => ctx.json(422, { mine: err.message })));
    expect(await post('nope')).toEqual({ status: 422, body: { mine: expect.stringMatching(/^malformed JSON/) } });
    expect(outcomes).toEqual([{ value: undefined }]);
    // A body that never ends: the client gives up; the read fails as 'other', not as a body problem.
    const ac = new AbortController();
    const never = request(url, {
      method: 'POST',
      headers: { 'content-length': '100' },
      body: Readable.from(
        (async function* () {
          yield Buffer.from('{"a":');
          await new Promise(() => undefined); // never ends
        })(),
      ),
      signal: ac.signal,
    }).catch(() => undefined);
    await waitFor(() => seen() === 2, 'the server to have the request');
    ac.abort();
    await never;
    await waitFor(() => outcomes.length === 2, 'the read to end');
    expect(outcomes[1]).toEqual({ value: undefined });
  });
});
