/** Injected faults: deterministic per seed, only on /api routes, each kind behaving as documented. */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSandbox, type FaultKind, type Sandbox } from '../../src/sandbox/index.js';
import { auth, fakePng, form, getStatus, sha256 } from './sandbox-helpers.js';

type Outcome = string;

async function outcome(p: Promise<{ statusCode: number; headers: Record<string, unknown>; body: { dump(): Promise<void> } }>): Promise<Outcome> {
  try {
    const r = await p;
    await r.body.dump();
    return String(r.statusCode);
  } catch {
    return 'socket-error';
  }
}

async function statusSequence(sb: Sandbox, n: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await outcome(request(`${sb.bachEndpoint}/batch-upload/status/none`, { headers: auth('t') }) as never));
  }
  return out;
}

describe('fault injection', () => {
  it('the same seed gives the same sequence; another seed a different one', async () => {
    const kinds: FaultKind[] = ['500', '503', '429', 'reset', 'lost'];
    const run = async (seed: number) => {
      const sb = await startSandbox({ faults: { rate: 0.5, kinds, seed } });
      try {
        const seq = await statusSequence(sb, 40);
        return { seq, stats: sb.stats() };
      } finally {
        await sb.close();
      }
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(a.seq).toEqual(b.seq);
    expect(a.stats.faultsInjected).toEqual(b.stats.faultsInjected);
    expect(c.seq).not.toEqual(a.seq);
    expect(new Set(a.seq)).toEqual(new Set(['404', '500', '503', '429', 'socket-error']));
    const injected = Object.values(a.stats.faultsInjected).reduce((x, y) => x + y, 0);
    expect(injected).toBe(a.seq.filter((o) => o !== '404').length);
    expect(a.stats.requests['bach.status']).toBe(40);
  });

  it('429 carries Retry-After; 500/503 are JSON envelopes', async () => {
    for (const kind of ['429', '500', '503'] as const) {
      const sb = await startSandbox({ faults: { rate: 1, kinds: [kind], retryAfterSec: 7 } });
      try {
        const r = await request(`${sb.bachEndpoint}/batch-upload/status/x`, { headers: auth('t') });
        expect(r.statusCode).toBe(Number(kind));
        const body = (await r.body.json()) as { code: number; message: string };
        expect(body.code).toBe(Number(kind));
        expect(body.message).toMatch(/injected/);
        if (kind === '429') expect(r.headers['retry-after']).toBe('7');
        expect(sb.stats().faultsInjected).toEqual({ [kind]: 1 });
      } finally {
        await sb.close();
      }
    }
  });

  it('never applies to /cdn or /_sandbox', async () => {
    const sb = await startSandbox({ faults: { rate: 1, kinds: ['500'] } });
    try {
      for (const path of ['/_sandbox/health', '/_sandbox/stats', `/cdn/${'a'.repeat(64)}.png`]) {
        const r = await request(`${sb.url}${path}`);
        await r.body.dump();
        expect(r.statusCode).not.toBe(500);
      }
      expect(sb.stats().faultsInjected).toEqual({});
    } finally {
      await sb.close();
    }
  });

  it("'slow' delays the answer by slowMs", async () => {
    const sb = await startSandbox({ faults: { rate: 1, kinds: ['slow'], slowMs: 300 } });
    try {
      const t0 = Date.now();
      const r = await getStatus(sb.bachEndpoint, 'x', auth('t'));
      expect(r.status).toBe(404);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    } finally {
      await sb.close();
    }
  });

  it("'reset' cuts the connection mid-upload and stores nothing", async () => {
    const sb = await startSandbox({ faults: { rate: 1, kinds: ['reset'] } });
    try {
      const res = await outcome(
        request(`${sb.bachEndpoint}/batch-upload/submit-with-files`, {
          method: 'POST',
          body: form({ files: [{ name: 'a.png', data: fakePng(4 * 1024 * 1024) }], batchId: 'r1' }),
          headers: auth('t'),
        }) as never,
      );
      expect(res).toBe('socket-error');
      const s = sb.stats();
      expect(s).toMatchObject({ objects: 0, batches: 0, faultsInjected: { reset: 1 } });
    } finally {
      await sb.close();
    }
  });

  it("'lost' processes the request (batch stored) but never answers", async () => {
    const sb = await startSandbox({ faults: { rate: 1, kinds: ['lost'] }, processMsPerImage: 0 });
    try {
      const img = fakePng(1000);
      const res = await outcome(
        request(`${sb.bachEndpoint}/batch-upload/submit-with-files`, {
          method: 'POST',
          body: form({ files: [{ name: 'a.png', data: img }], batchId: 'lost-1' }),
          headers: auth('t'),
        }) as never,
      );
      expect(res).toBe('socket-error');
      expect(sb.stats()).toMatchObject({ objects: 1, batches: 1, receipts: { [sha256(img)]: 1 }, faultsInjected: { lost: 1 } });
      const insp = await request(`${sb.url}/_sandbox/batches/lost-1`);
      const info = (await insp.body.json()) as { status: { status: string; results: Array<{ status: string }> } };
      expect(info.status.status).toBe('TASK_SUCCEEDED');
      expect(info.status.results[0]!.status).toBe('TASK_SUCCEEDED');
      // JSON path too
      const res2 = await outcome(
        request(`${sb.bachEndpoint}/batch-upload/submit`, {
          method: 'POST',
          body: JSON.stringify({ batch_id: 'lost-2', images: [{ image_base64: img.toString('base64') }] }),
          headers: { ...auth('t'), 'content-type': 'application/json' },
        }) as never,
      );
      expect(res2).toBe('socket-error');
      expect(sb.stats()).toMatchObject({ batches: 2, receipts: { [sha256(img)]: 2 } });
    } finally {
      await sb.close();
    }
  });

  it('rejects bad fault options', async () => {
    await expect(startSandbox({ faults: { rate: 2 } })).rejects.toThrow(/rate/);
    await expect(startSandbox({ faults: { kinds: ['boom' as FaultKind] } })).rejects.toThrow(/unknown fault kind/);
  });
});
