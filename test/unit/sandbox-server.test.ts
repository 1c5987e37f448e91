/** The server over a protocol list: a protocol of a test's own plugs in; options and stats per protocol. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { defineProtocol } from '../../src/sandbox/kit/protocol.js';
import { integerOption } from '../../src/sandbox/kit/options.js';
import { readJsonOr } from '../../src/sandbox/kit/json-body.js';
import { auth } from './sandbox-helpers.js';

const boxes: Sandbox[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const b of boxes.splice(0)) await b.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A protocol of ten lines: one option, one route, its own stats. */
const echo = defineProtocol({
  name: 'echo',
  endpointPath: '/echo',
  summary: 'says what it is told',
  options: { times: integerOption({ description: 'how often', default: 1, min: 1, max: 3 }) },
  async create(core, options) {
    let said = 0;
    return {
      routes: [
        {
          method: 'POST',
          path: '/echo/say',
          name: 'echo.say',
          faults: true,
          async handle(ctx) {
            const body = await readJsonOr(ctx, (err) => ctx.refuse(400, { oops: err.problem }));
            if (!body) return;
            said++;
            return ctx.json(200, { said: String(body.text ?? '').repeat(options.times), at: core.now() });
          },
        },
      ],
      stats: () => ({ said }),
      errorBody: (status, message) => ({ oops: status, message }),
    };
  },
});

async function post(url: string, body: string) {
  const r = await request(url, { method: 'POST', body, headers: auth('t') });
  return { status: r.statusCode, body: (await r.body.json()) as any };
}

describe('a protocol list of its own', () => {
  it("serves only what it is handed, with that protocol's options, stats section and error envelope", async () => {
    const sb = await startSandbox({ protocols: [echo], protocolOptions: { echo: { times: 2 } }, clock: () => 42 });
    boxes.push(sb);
    expect(sb.endpoints).toEqual({ echo: `${sb.url}/echo` });
    expect(sb.protocols).toEqual([{ name: 'echo', endpoint: `${sb.url}/echo`, summary: 'says what it is told' }]);
    expect(await post(`${sb.url}/echo/say`, '{"text":"ab"}')).toEqual({ status: 200, body: { said: 'abab', at: 42 } });
    expect(await post(`${sb.url}/echo/say`, '[')).toEqual({ status: 400, body: { oops: 'malformed' } });
    expect((await request(`${sb.url}/api/vdr/batch-upload/status/x`)).statusCode).toBe(404);
    const stats = sb.stats() as any;
    expect(stats.echo).toEqual({ said: 1 });
    expect(stats.requests).toEqual({ 'echo.say': 2, 'not-found': 1 });
    expect(stats.throttle).toEqual({ retryAfterGiven: 0, startedDuringRetryAfter: 0 });
    expect(stats.webhooks).toEqual({ sent: 0, delivered: 0, failed: 0 });
  });

  it("answers injected faults in the protocol's own envelope", async () => {
    const sb = await startSandbox({ protocols: [echo], faults: { rate: 1, kinds: ['503'] } });
    boxes.push(sb);
    expect(await post(`${sb.url}/echo/say`, '{}')).toEqual({ status: 503, body: { oops: 503, message: 'Service unavailable (injected by the sandbox).' } });
  });

  it('refuses options for a protocol it does not serve, unknown options and bad values, before touching the disk', async () => {
    const dataDir = join(tmpdir(), `batchup-never-${process.pid}-${Date.now()}`);
    await expect(startSandbox({ dataDir, protocols: [echo], protocolOptions: { hybrid: {} } })).rejects.toThrow(/'hybrid', which is not served/);
    await expect(startSandbox({ dataDir, protocols: [echo], protocolOptions: { echo: { loud: true } as never } })).rejects.toThrow(
      /echo has no sandbox option 'loud'/,
    );
    await expect(startSandbox({ dataDir, protocols: [echo], protocolOptions: { echo: { times: 9 } } })).rejects.toThrow(
      'echo sandbox option times must be a whole number from 1 to 3, got 9',
    );
    await expect(startSandbox({ dataDir, protocols: [echo, echo] })).rejects.toThrow(/listed twice/);
    await expect(startSandbox({ protocolOptions: { aihub: { partSize: 0 } } })).rejects.toThrow(/aihub sandbox option partSize/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('the default list', () => {
  it("keeps the generic counters top-level and each protocol's under its name", async () => {
    const sb = await startSandbox();
    boxes.push(sb);
    const s = sb.stats();
    expect(Object.keys(s).sort()).toEqual(
      [
        'aihub',
        'batches',
        'blurb',
        'bytesReceived',
        'bytesStored',
        'claid',
        'faultsInjected',
        'handling',
        'hybrid',
        'objects',
        'receipts',
        'requests',
        'throttle',
        'webhooks',
      ].sort(),
    );
    expect(s.hybrid).toEqual({ partsReceived: {}, partsRefused: 0, partBytesReceived: 0, presignedWithAuth: 0 });
    expect(s.aihub).toMatchObject({ contexts: {}, partsReceived: 0, sessionsCommitted: 0 });
    expect(s.blurb).toEqual({ batchesCreated: 0, rendersCreated: 0, dryRuns: 0, refused: 0, gets: {} });
    expect(s.claid).toEqual({ rateLimited: 0, uploads: 0, batches: 0, callsCharged: 0, outOfCalls: 0 });
    expect(sb.endpoints).toEqual({ bach: `${sb.url}/api/vdr`, hybrid: sb.url, aihub: `${sb.url}/api`, claid: sb.url, blurb: sb.url });
    expect(sb.bachEndpoint).toBe(`${sb.url}/api/vdr`);
  });

  it('aihub: a data folder from before per-batch records is adopted; ids are never handed out twice', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'batchup-aihub-legacy-'));
    dirs.push(dataDir);
    await mkdir(join(dataDir, 'aihub'), { recursive: true });
    const legacy = { id: 3, name: 'old', workspace: 'w', created_at_ms: 1, updated_at_ms: 1, path_suffix: 'file-batches/x', files: {}, contexts: {} };
    await writeFile(join(dataDir, 'aihub', 'state.json'), JSON.stringify({ nextBatchId: 5, batches: [legacy] }));
    const api = (sb: Sandbox) => `${sb.url}/api/v2/batches`;
    const one = await startSandbox({ dataDir, protocolOptions: { aihub: { jobStepMs: 0 } } });
    expect((await (await request(`${api(one)}/3`, { headers: auth('t') })).body.json()) as any).toMatchObject({ id: 3, name: 'old' });
    expect(existsSync(join(dataDir, 'aihub', 'state.json'))).toBe(false);
    const created = await post(api(one), '{"name":"new"}');
    expect(created.body.id).toBe(5);
    // Deleted (the job ends at once), then a restart: 5 is not handed out again.
    const del = await request(`${api(one)}/5`, { method: 'DELETE', headers: auth('t') });
    expect(del.statusCode).toBe(202);
    await del.body.dump();
    expect((await request(`${api(one)}/5`, { headers: auth('t') })).statusCode).toBe(404);
    await one.close();
    const two = await startSandbox({ dataDir });
    boxes.push(two);
    expect((await post(api(two), '{"name":"after"}')).body.id).toBe(6);
    expect(two.stats().batches).toBe(2);
  });
});
