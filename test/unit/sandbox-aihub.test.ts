/** The aihub protocol of the sandbox, over real HTTP on 127.0.0.1. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { MESSAGES } from '../../src/providers/aihub/contract.js';
import { TOKEN, auth, download, fakePng, sha256 } from './sandbox-helpers.js';
import { waitFor } from '../helpers/wait.js';

const PART = 64 * 1024;
let sb: Sandbox;
let api: string;

const JOB_STEP_MS = 250;
/** The sandbox's clock: real time (plus what tests moved it), unless a test holds it still and moves it by hand (job states). */
let heldAt: number | undefined;
let ahead = 0;
const clock = () => heldAt ?? Date.now() + ahead;

beforeAll(async () => {
  sb = await startSandbox({
    token: TOKEN,
    processMsPerImage: 2,
    clock,
    protocolOptions: { aihub: { partSize: PART, resultsPageSize: 3, jobStepMs: JOB_STEP_MS } },
  });
  api = `${sb.url}/api/v2`;
});
afterAll(async () => {
  await sb?.close();
});

type Res = { status: number; headers: Record<string, string | string[] | undefined>; body: any };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = auth()): Promise<Res> {
  const isBuf = Buffer.isBuffer(body);
  const res = await request(path.startsWith('http') ? path : `${api}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? headers : { 'content-type': isBuf ? 'application/octet-stream' : 'application/json', ...headers },
    body: body === undefined ? undefined : isBuf ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, headers: res.headers, body: parsed };
}

const newBatch = async (name = 'b', workspace?: string) => {
  const r = await call('POST', '/batches', workspace ? { name, workspace } : { name });
  expect(r.status).toBe(200);
  return String(r.body.id);
};
const inspect = async (id: string) => (await call('GET', `${sb.url}/_sandbox/batches/aihub-${id}`, undefined, {})).body;

describe('auth and errors', () => {
  it('401 {message} without a bearer token', async () => {
    const r = await call('GET', '/batches', undefined, {});
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ message: MESSAGES.unauthorized });
    expect((await call('GET', '/batches', undefined, auth('wrong'))).status).toBe(401);
  });
});

describe('batches', () => {
  it('create, get, list with filters and limit/offset, 404s', async () => {
    const a = await newBatch('alpha', 'ws-list');
    const b = await newBatch('beta', 'ws-list');
    const c = await newBatch('gamma', 'ws-list');
    const g = await call('GET', `/batches/${a}`);
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ id: Number(a), name: 'alpha', workspace: 'ws-list', mount_point: expect.any(String), batch_owner: expect.any(String) });
    expect(g.body.path_suffix).toMatch(/^file-batches\//);
    const all = await call('GET', '/batches?workspace=ws-list');
    expect(all.body.batches.map((x: any) => String(x.id))).toEqual([a, b, c]);
    const page = await call('GET', '/batches?workspace=ws-list&limit=1&offset=1');
    expect(page.body.batches.map((x: any) => String(x.id))).toEqual([b]);
    expect((await call('GET', '/batches?username=nobody')).body.batches).toEqual([]);
    expect((await call('GET', '/batches/999999')).status).toBe(404);
    expect((await call('GET', '/batches/999999')).body.message).toBe(MESSAGES.batchNotFound('999999'));
  });

  it('name is required and at most 255 characters', async () => {
    expect((await call('POST', '/batches', {})).status).toBe(400);
    expect((await call('POST', '/batches', { name: 'x'.repeat(256) })).body).toEqual({ message: MESSAGES.nameTooLong });
    expect((await call('POST', '/batches', { name: 'é'.repeat(255) })).status).toBe(200);
    expect((await call('POST', '/batches', '{not json' as unknown as object)).status).toBe(400);
  });
});

describe('files', () => {
  it('PUT stores the bytes; same name replaces; names are one decoded path segment', async () => {
    const id = await newBatch();
    const one = fakePng(500, 'one');
    const two = fakePng(700, 'two');
    const name = 'rapport final #1 (été).png';
    expect((await call('PUT', `/batches/${id}/files/${encodeURIComponent(name)}`, one)).status).toBe(204);
    expect((await call('PUT', `/batches/${id}/files/${encodeURIComponent(name)}`, two)).status).toBe(204);
    const info = await inspect(id);
    expect(info.files).toHaveLength(1);
    expect(info.files[0]).toMatchObject({ name, size: 700, sha256: sha256(two), via: 'put', detected_type: 'png' });
    expect((await download(info.files[0].url)).bytes.equals(two)).toBe(true);
    // '/' inside a name (encoded) is not a file name; a missing batch is 404.
    expect((await call('PUT', `/batches/${id}/files/${encodeURIComponent('a/b.png')}`, one)).status).toBe(400);
    expect((await call('PUT', `/batches/${id}/files/noext`, one)).status).toBe(400);
    expect((await call('PUT', `/batches/424242/files/x.png`, one)).status).toBe(404);
  });

  it('every accepted PUT and every committed session is a receipt: a file sent twice shows', async () => {
    const id = await newBatch('receipts');
    const same = fakePng(300, 'sent-twice');
    const receipts = () => sb.stats().receipts[sha256(same)] ?? 0;
    expect((await call('PUT', `/batches/${id}/files/twice.png`, same)).status).toBe(204);
    expect(receipts()).toBe(1);
    expect((await call('PUT', `/batches/${id}/files/twice.png`, same)).status).toBe(204); // the same bytes again
    expect(receipts()).toBe(2);
    const s = await call('POST', '/batches/multipart-upload', { batch_id: Number(id), filename: 'twice.png', file_size: same.length });
    const url = s.headers.location as string;
    const part = await call('PUT', `${url}/parts/1`, same);
    expect((await call('POST', url, { action: 'commit', parts: [{ part_num: 1, part_id: part.body.part_id }] })).status).toBe(204);
    expect(receipts()).toBe(3);
    expect((await inspect(id)).files).toHaveLength(1);
    expect(sb.stats().aihub).toMatchObject({ sessionsCommitted: expect.any(Number), partsReceived: expect.any(Number) });
  });

  it('lists files in pages with start_token', async () => {
    const id = await newBatch();
    const names = Array.from({ length: 7 }, (_, i) => `f${i}.png`);
    for (const n of names) await call('PUT', `/batches/${id}/files/${n}`, fakePng(100, n));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await call('GET', `/batches/${id}/files?page_size=3${token ? `&start_token=${token}` : ''}`);
      expect(r.status).toBe(200);
      pages++;
      seen.push(...r.body.nodes.map((n: any) => n.name));
      expect(r.body.nodes.every((n: any) => n.size === 100)).toBe(true);
      if (!r.body.has_more) {
        expect(r.body.next_page_token).toBeNull();
        break;
      }
      token = r.body.next_page_token;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(names);
  });
});

describe('multipart sessions', () => {
  const big = fakePng(PART * 2 + 1000, 'big-one');
  const partOf = (n: number) => big.subarray((n - 1) * PART, Math.min(big.length, n * PART));

  it('start (both body forms) → 201 + Location + part_size; parts in order; commit assembles the file', async () => {
    const id = await newBatch('mp');
    const s = await call('POST', '/batches/multipart-upload', { batch_id: Number(id), filename: 'big.png', file_size: big.length });
    expect(s.status).toBe(201);
    expect(s.body.part_size).toBe(PART);
    const url = s.headers.location as string;
    expect(url).toBe(`${api}/batches/multipart-upload/sessions/${s.body.session_id}`);

    // Part 2 before part 1: refused (the in-order rule).
    const early = await call('PUT', `${url}/parts/2`, partOf(2));
    expect(early.status).toBe(400);
    expect(early.body.message).toBe(MESSAGES.partOutOfOrder(2, 1));
    // A part of the wrong size: refused.
    expect((await call('PUT', `${url}/parts/1`, partOf(1).subarray(1))).status).toBe(400);
    expect((await call('PUT', `${url}/parts/4`, partOf(1))).status).toBe(400);

    const acks: any[] = [];
    for (const n of [1, 2, 3]) {
      const r = await call('PUT', `${url}/parts/${n}`, partOf(n));
      expect(r.status).toBe(201);
      expect(r.body.part_num).toBe(n);
      acks.push({ part_num: n, part_id: r.body.part_id });
    }
    // Part 2 again: a new part_id; committing with the old one is refused.
    const again = await call('PUT', `${url}/parts/2`, partOf(2));
    expect(again.body.part_id).not.toBe(acks[1].part_id);
    const stale = await call('POST', url, { action: 'commit', parts: acks });
    expect(stale.status).toBe(400);
    expect(stale.body.message).toMatch(/part 2 has part_id/);
    acks[1].part_id = again.body.part_id;
    const missing = await call('POST', url, { action: 'commit', parts: acks.slice(0, 2) });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toBe(MESSAGES.commitIncomplete('part 3 is missing (the file has 3 part(s))'));

    const ok = await call('POST', url, { action: 'commit', parts: acks });
    expect(ok.status).toBe(204);
    const info = await inspect(id);
    expect(info.files[0]).toMatchObject({ name: 'big.png', size: big.length, sha256: sha256(big), via: 'multipart' });
    expect((await download(info.files[0].url)).bytes.equals(big)).toBe(true);
    // The session is gone.
    expect((await call('POST', url, { action: 'commit', parts: acks })).status).toBe(404);
    expect((await call('PUT', `${url}/parts/1`, partOf(1))).status).toBe(404);
  });

  it('accepts the older {path, file_size} form; abort discards; unknown batch is 404', async () => {
    const id = await newBatch('old-form');
    const b = (await call('GET', `/batches/${id}`)).body;
    const s = await call('POST', '/batches/multipart-upload', { path: `/drive/${b.path_suffix}/old.png`, file_size: 10 });
    expect(s.status).toBe(201);
    const url = s.headers.location as string;
    expect((await call('PUT', `${url}/parts/1`, fakePng(10, 'x'))).status).toBe(201);
    expect((await call('POST', url, { action: 'abort' })).status).toBe(204);
    expect((await call('POST', url, { action: 'commit', parts: [] })).status).toBe(404);
    expect((await call('POST', '/batches/multipart-upload', { batch_id: 777777, filename: 'a.png', file_size: 1 })).status).toBe(404);
    expect((await call('POST', '/batches/multipart-upload', { batch_id: Number(id), filename: 'a.png' })).status).toBe(400);
    expect((await call('POST', url.replace(/[^/]+$/, 'nope'), { action: 'abort' })).status).toBe(404);
  });
});

describe('delete jobs', () => {
  /** Every state of a job, in order: the clock is held and moved one step at a time, so none can be missed. */
  const waitJob = async (url: string) => {
    const states: string[] = [];
    let last: any;
    heldAt = clock();
    try {
      for (let step = 0; step < 20; step++) {
        const r = await call('GET', url);
        expect(r.status).toBe(200);
        if (states[states.length - 1] !== r.body.state) states.push(r.body.state);
        last = r.body;
        if (['COMPLETE', 'FAILED', 'CANCELLED'].includes(r.body.state)) break;
        heldAt += JOB_STEP_MS;
      }
    } finally {
      ahead = heldAt - Date.now(); // time never runs backwards for the sandbox
      heldAt = undefined;
    }
    return { states, last };
  };

  it('deleting a file: 202 + Location; PENDING → RUNNING → COMPLETE; then the file is gone', async () => {
    const id = await newBatch();
    await call('PUT', `/batches/${id}/files/a.png`, fakePng(50, 'a'));
    await call('PUT', `/batches/${id}/files/b.png`, fakePng(50, 'b'));
    const r = await call('DELETE', `/batches/${id}/files/a.png`);
    expect(r.status).toBe(202);
    const loc = r.headers.location as string;
    expect(loc).toMatch(new RegExp(`^${api}/batches/jobs/`));
    const { states } = await waitJob(loc);
    expect(states).toEqual(['PENDING', 'RUNNING', 'COMPLETE']);
    expect((await inspect(id)).files.map((f: any) => f.name)).toEqual(['b.png']);
    // The alternative job path answers too.
    const jobId = loc.split('/').pop();
    expect((await call('GET', `/jobs/${jobId}`)).body.state).toBe('COMPLETE');
  });

  it('deleting a file the batch does not have: the job FAILS', async () => {
    const id = await newBatch();
    const r = await call('DELETE', `/batches/${id}/files/ghost.png`);
    expect(r.status).toBe(202);
    const { last } = await waitJob(r.headers.location as string);
    expect(last).toEqual({ state: 'FAILED', message: MESSAGES.fileNotFound('ghost.png') });
    expect((await call('DELETE', `/batches/999999/files/x.png`)).status).toBe(404);
  });

  it('deleting a batch: {job_id}; the batch stays until the job completes, then is gone from list and get', async () => {
    const id = await newBatch('doomed');
    const r = await call('DELETE', `/batches/${id}`);
    expect(r.status).toBe(202);
    expect(typeof r.body.job_id).toBe('string');
    expect((await call('GET', `/batches/${id}`)).status).toBe(200);
    await waitJob(`/batches/jobs/${r.body.job_id}`);
    expect((await call('GET', `/batches/${id}`)).status).toBe(404);
    expect((await call('GET', '/batches')).body.batches.some((b: any) => String(b.id) === id)).toBe(false);
    expect((await call('DELETE', `/batches/${id}`)).status).toBe(404);
    expect((await call('GET', '/batches/jobs/nope')).status).toBe(404);
  });
});

describe('app runs', () => {
  it('RUNNING → COMPLETE with progress; one document per file; results paged by file_offset', async () => {
    const id = await newBatch('run');
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n');
    await call('PUT', `/batches/${id}/files/doc.pdf`, pdf);
    for (let i = 0; i < 6; i++) await call('PUT', `/batches/${id}/files/p${i}.png`, fakePng(60 + i, `r${i}`));
    const start = await call('POST', '/apps/runs', { app_name: 'describe', batch_id: Number(id) });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ status: 'RUNNING', batch_id: Number(id), progress: { total: 7 } });
    let run: any;
    await waitFor(
      async () => {
        run = (await call('GET', `/apps/runs/${start.body.id}`)).body;
        return run.status !== 'RUNNING';
      },
      'the app run to end',
      { everyMs: 10 },
    );
    expect(run).toMatchObject({ status: 'COMPLETE', progress: { completed: 7, total: 7 } });
    expect(run.finish_timestamp).toBeGreaterThanOrEqual(run.start_timestamp);

    const files: any[] = [];
    let offset = 0;
    let pages = 0;
    for (;;) {
      const r = await call('GET', `/apps/runs/${start.body.id}/results?file_offset=${offset}`);
      expect(r.status).toBe(200);
      pages++;
      files.push(...r.body.files);
      if (!r.body.has_more) break;
      offset += r.body.files.length;
    }
    expect(pages).toBe(3);
    expect(files.map((f) => f.original_file_name)).toEqual(['doc.pdf', 'p0.png', 'p1.png', 'p2.png', 'p3.png', 'p4.png', 'p5.png']);
    expect(files[0].documents).toEqual([{ name: 'doc.pdf', size: pdf.length, detected_type: 'pdf' }]);
    expect(files[1].documents[0]).toMatchObject({ detected_type: 'png', size: 60 });
  });

  it('an empty batch FAILS; bad requests are refused', async () => {
    const id = await newBatch('empty');
    const r = await call('POST', '/apps/runs', { app_id: 'abc', batch_id: Number(id) });
    expect(r.body).toMatchObject({ status: 'FAILED', msg: MESSAGES.runEmptyBatch });
    expect((await call('POST', '/apps/runs', { batch_id: Number(id) })).body).toEqual({ message: MESSAGES.runNeedsApp });
    expect((await call('POST', '/apps/runs', { app_name: 'x' })).body).toEqual({ message: MESSAGES.runNeedsInput });
    expect((await call('POST', '/apps/runs', { app_name: 'x', input_dir: '/a' })).status).toBe(400);
    expect((await call('POST', '/apps/runs', { app_name: 'x', batch_id: 999999 })).status).toBe(404);
    expect((await call('GET', '/apps/runs/nope')).status).toBe(404);
    expect((await call('GET', '/apps/runs/nope/results')).status).toBe(404);
  });
});

describe('IB-Context', () => {
  it('is counted per batch and overall', async () => {
    const h = { ...auth(), 'ib-context': 'org-42' };
    const r = await call('POST', '/batches', { name: 'ctx' }, h);
    const id = String(r.body.id);
    await call('PUT', `/batches/${id}/files/a.png`, fakePng(10, 'ctx'), h);
    await call('GET', `/batches/${id}`);
    expect((await inspect(id)).contexts).toEqual({ 'org-42': 2, '': 1 });
    const all = (await call('GET', `${sb.url}/_sandbox/aihub`, undefined, {})).body;
    expect(all.contexts['org-42']).toBeGreaterThanOrEqual(2);
  });
});
