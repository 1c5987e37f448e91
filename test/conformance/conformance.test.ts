/**
 * The conformance suite: the same scenarios over every provider adapter, each against its own
 * `batchup serve`, always through the built CLI (`node bin/batchup.js`):
 *
 *  1. upload    — valid inputs and one the provider must refuse: exit 3, every valid input
 *                 uploaded byte-identical (the sandbox holds an object with its sha256) exactly
 *                 once, the refused one rejected with its rule and nothing of it sent;
 *  2. rerun     — the same command again: nothing sent, everything skipped, exit 0;
 *  3. faults    — 5xx, 429, resets and lost answers on a quarter of the API requests: exit 0, each
 *                 input stored exactly once;
 *  4. kill -9   — the process killed at four random moments in a row (seeded), then the same
 *                 command to the end: exit 0, each input stored exactly once, the manifest complete.
 *
 * The providers and how to make their inputs are the table in providers.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanEnv, cli, readJson, serve, tempDir, type SandboxStats, type ServeHandle } from '../helpers/cli.js';
import { settledValue, waitFor } from '../helpers/wait.js';
import { mulberry32 } from '../../src/sandbox/kit/faults.js';
import { providerNames } from '../../src/providers/registry.js';
import { CASES, type ProviderCase } from './providers.js';

const TOKEN = 'tok-conformance-40d2';
const FILES = 6;
/** Seed of the kill moments (replayable). */
const KILL_SEED = 7;
const servers: ServeHandle[] = [];

afterAll(async () => {
  for (const sb of servers) await sb.stop().catch(() => undefined);
});

async function start(args: string[] = []): Promise<ServeHandle> {
  const sb = await serve(['--token', TOKEN, '--process-ms', '1', ...args]);
  servers.push(sb);
  return sb;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const requestsOf = (s: SandboxStats) => Object.values(s.requests).reduce((a, b) => a + b, 0);

function upload(c: ProviderCase, sb: ServeHandle, dir: string, run: string) {
  const args = ['upload', join(dir, 'in'), '--provider', c.name, '--manifest', join(dir, 'manifest.json'), ...c.args(run)];
  const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: c.endpoint(sb) });
  return { args, env };
}

/**
 * Every valid input is in the manifest as uploaded/skipped, and stored on the sandbox exactly once,
 * byte for byte — or, for a provider that `resendsLostAnswers`, at least once and at most once
 * more per `resent` (answers the sandbox dropped, kills). `statuses`: what the manifest may say —
 * a first upload says `uploaded`; after kills, inputs an earlier run finished are `skipped`.
 */
async function expectStoredOnce(c: ProviderCase, sb: ServeHandle, dir: string, inputs: string[], run: string, statuses = ['uploaded', 'skipped'], resent = 0) {
  if (c.storedOnce) return c.storedOnce(sb, join(dir, 'manifest.json'), inputs, statuses);
  const m = await readJson(join(dir, 'manifest.json'));
  const stats = await sb.stats();
  const uploaded = [];
  for (const path of inputs) {
    const e = m.entries.find((x: any) => x.source === path);
    expect(e, `${c.name}: ${path} is not in the manifest`).toBeDefined();
    expect(statuses, `${c.name}: ${path}: ${e.error ?? ''}`).toContain(e.status);
    const want = sha(await readFile(path));
    expect(e.sha256).toBe(want);
    const times = stats.receipts[want] ?? 0;
    if (c.resendsLostAnswers && resent > 0) {
      expect(times, `${c.name}: ${path} stored ${times} times (at most 1 + ${resent} resent)`).toBeGreaterThanOrEqual(1);
      expect(times, `${c.name}: ${path} stored ${times} times (at most 1 + ${resent} resent)`).toBeLessThanOrEqual(1 + resent);
    } else {
      expect(times, `${c.name}: ${path} stored ${times} times`).toBe(1);
    }
    const object = join(sb.dataDir, 'objects', want.slice(0, 2), want);
    expect(existsSync(object)).toBe(true);
    expect(sha(await readFile(object))).toBe(want);
    uploaded.push(e);
  }
  await c.check?.(sb, uploaded, run);
  return m;
}

describe('every provider in the registry has a conformance row', () => {
  it('providers.ts covers the registry', () => {
    expect(CASES.map((c) => c.name).sort()).toEqual([...providerNames()].sort());
  });
});

describe.each(CASES)('conformance: $name', (c) => {
  let clean: ServeHandle;

  it('upload: valid inputs uploaded once and byte-identical; the invalid one rejected, nothing of it sent', async () => {
    clean = await start();
    const dir = await tempDir(`batchup-conf-${c.name}-`);
    const inputs = await c.inputs(join(dir, 'in'), FILES, 10_000);
    const bad = await c.invalid(join(dir, 'in'));
    const { args, env } = upload(c, clean, dir, 'upload');
    const r = await cli(args, { env });
    expect(r.exitCode, r.stderr).toBe(3);
    const m = await expectStoredOnce(c, clean, dir, inputs, 'upload', ['uploaded']);
    expect(m.entries).toHaveLength(FILES + 1);
    const rejected = m.entries.find((e: any) => e.source === bad.path);
    expect(rejected).toMatchObject({ status: 'rejected', rule: bad.rule, provider: c.name });
    expect(r.stderr).toContain(bad.path.split('/').pop());
    expect((await clean.stats()).receipts[sha(await readFile(bad.path))]).toBeUndefined();
    expect(m.entries.filter((e: any) => e.status === 'uploaded').every((e: any) => e.provider === c.name && e.url)).toBe(true);

    // rerun: the same command sends nothing and skips everything that went through.
    const before = await clean.stats();
    const again = await cli(args, { env });
    expect(again.exitCode, again.stderr).toBe(3); // the invalid input is still there
    expect(again.stderr).toMatch(new RegExp(`uploaded 0, skipped ${FILES}, rejected 1, failed 0`));
    const after = await clean.stats();
    expect(after.receipts).toEqual(before.receipts);
    expect(after.objects).toBe(before.objects);
    await expectStoredOnce(c, clean, dir, inputs, 'upload', ['skipped']);
  });

  it('faults: 5xx, 429, resets and lost answers on a quarter of the requests — each input stored exactly once', async () => {
    const rough = await start(['--fault-rate', '0.25', '--faults', c.faults ?? '500,503,429,reset,lost', '--seed', '9', '--retry-after', '0']);
    const dir = await tempDir(`batchup-conf-${c.name}-faults-`);
    const inputs = await c.inputs(join(dir, 'in'), FILES, 20_000);
    const { args, env } = upload(c, rough, dir, 'faults');
    const r = await cli([...args, '--verbose'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectStoredOnce(c, rough, dir, inputs, 'faults', ['uploaded'], (await rough.stats()).faultsInjected.lost ?? 0);
    const injected = Object.values((await rough.stats()).faultsInjected).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(0);
  });

  it('30% of API requests answered 429 + Retry-After: 1 — completes, nothing stored twice, no new request while a Retry-After runs', async () => {
    const throttled = await start(['--fault-rate', '0.3', '--faults', '429', '--retry-after', '1', '--seed', '21']);
    const dir = await tempDir(`batchup-conf-${c.name}-throttle-`);
    const inputs = await c.inputs(join(dir, 'in'), FILES, 50_000);
    const { args, env } = upload(c, throttled, dir, 'throttle');
    const r = await cli([...args, ...(c.chatty ?? [])], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectStoredOnce(c, throttled, dir, inputs, 'throttle', ['uploaded']);
    const { throttle } = await throttled.stats();
    expect(throttle.retryAfterGiven).toBeGreaterThan(0);
    expect(throttle.startedDuringRetryAfter).toBe(0);
  });

  // A provider whose lost answers cannot be looked up has its own kill scenarios (kills: false).
  if (c.kills === false) return;

  it('kill -9 at several random moments in a row, then the run to the end: each input stored exactly once, the manifest complete', async () => {
    // Every API answer is slowed down, so the kills land while the run is under way.
    const slow = await start(['--fault-rate', '1', '--faults', 'slow', '--slow-ms', '150', '--seed', '3']);
    const dir = await tempDir(`batchup-conf-${c.name}-kill-`);
    const inputs = await c.inputs(join(dir, 'in'), FILES, 30_000);
    const { args, env } = upload(c, slow, dir, 'kill');
    const random = mulberry32(KILL_SEED + c.name.length);
    for (let k = 0; k < 4; k++) {
      // A random moment: after 0 to 7 more API requests reached the server (0: still starting up).
      const wait = Math.floor(random() * 8);
      const base = requestsOf(await slow.stats());
      const run = execa('node', [BIN, ...args], { env, extendEnv: false, reject: false });
      await waitFor(async () => requestsOf(await slow.stats()) >= base + wait || run.exitCode !== null, `kill ${k}: ${wait} requests`, { everyMs: 5 });
      run.kill('SIGKILL');
      await run;
      // What the kill cut off settles on the server before the next run starts.
      await settledValue(async () => requestsOf(await slow.stats()), 'requests the server saw', 300);
    }
    const r = await cli(args, { env });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectStoredOnce(c, slow, dir, inputs, 'kill', undefined, 4);
  });

  it('kill -9 while the answer of a storing request is on its way, then the run to the end: nothing stored twice', async () => {
    // The server handles each API request at once but answers 1.5 s later: the kill lands after
    // an input was stored and before the client heard of it.
    const late = await start(['--fault-rate', '1', '--faults', 'slow', '--slow-ms', '1500', '--seed', '4']);
    const dir = await tempDir(`batchup-conf-${c.name}-lost-`);
    const inputs = await c.inputs(join(dir, 'in'), FILES, 40_000);
    const { args, env } = upload(c, late, dir, 'lost');
    const run = execa('node', [BIN, ...args], { env, extendEnv: false, reject: false });
    const stored = async () => {
      const s = await late.stats();
      return c.storesAt.some((r) => (s.requests[r] ?? 0) > 0) && Object.keys(s.receipts).length > 0;
    };
    await waitFor(stored, 'an input to be stored');
    run.kill('SIGKILL');
    await run;
    await settledValue(async () => requestsOf(await late.stats()), 'requests the server saw', 300);
    const r = await cli(args, { env });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectStoredOnce(c, late, dir, inputs, 'lost', undefined, 1);
  });
});
