/**
 * blurb's own kill scenarios (the table's generic ones assume a lost answer can be looked up;
 * blurb's cannot — see blurb-case.ts): through the built CLI against `batchup serve`.
 *
 *  1. kill -9 at four random moments in a row, then the run to the end: no spec's batch is ever
 *     created twice; each spec is rendered, or — when a kill fell between its POST and the
 *     answer — refused as UNKNOWN_OUTCOME (and still created at most once).
 *  2. kill -9 while the POST's answer is on its way: the rerun creates nothing and names the ref
 *     and `--resubmit REF`; with it, the batch is created exactly once more and rendered.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { BIN, cleanEnv, cli, readJson, sandboxes, tempDir, type SandboxStats, type ServeHandle } from '../helpers/cli.js';
import { sandboxBatches } from '../helpers/blurb.js';
import { settledValue, waitFor } from '../helpers/wait.js';
import { mulberry32 } from '../../src/sandbox/kit/faults.js';
import { writeSpecs } from './blurb-case.js';

const TOKEN = 'tok-conformance-blurb-19c4';
const env = () => cleanEnv({ BATCHUP_TOKEN: TOKEN });
const requestsOf = (s: SandboxStats) => Object.values(s.requests).reduce((a, b) => a + b, 0);

const start = sandboxes(['--token', TOKEN, '--render-ms', '1500']);

/** Batches the sandbox holds per ref. */
async function createdByRef(sb: ServeHandle): Promise<Map<string, number>> {
  const n = new Map<string, number>();
  for (const b of (await sandboxBatches(sb.url)).batches) n.set(b.ref, (n.get(b.ref) ?? 0) + 1);
  return n;
}

const refOf = (source: string) => source.slice(source.indexOf('#') + 1).split('!/')[0]!;

describe('conformance: blurb (its own kill scenarios)', () => {
  it('kill -9 at several random moments in a row, then the run to the end: no batch created twice', async () => {
    const sb = await start(['--fault-rate', '1', '--faults', 'slow', '--slow-ms', '150', '--seed', '3']);
    const dir = await tempDir('batchup-conf-blurb-kill-');
    const specs = await writeSpecs(join(dir, 'in'), 6, 30_000);
    const args = ['render', join(dir, 'in'), '--endpoint', sb.url, '--manifest', join(dir, 'manifest.json')];
    const random = mulberry32(11);
    for (let k = 0; k < 4; k++) {
      const wait = Math.floor(random() * 8);
      const base = requestsOf(await sb.stats());
      const run = execa('node', [BIN, ...args], { env: env(), extendEnv: false, reject: false });
      await waitFor(async () => requestsOf(await sb.stats()) >= base + wait || run.exitCode !== null, `kill ${k}: ${wait} requests`, { everyMs: 5 });
      run.kill('SIGKILL');
      await run;
      await settledValue(async () => requestsOf(await sb.stats()), 'requests the server saw', 300);
    }
    const r = await cli(args, { env: env() });
    expect([0, 3, 4], r.stderr).toContain(r.exitCode);
    const m = await readJson(join(dir, 'manifest.json'));
    const created = await createdByRef(sb);
    for (const n of created.values()) expect(n).toBe(1);
    for (const spec of specs) {
      const own = m.entries.filter((e: any) => e.source.startsWith(`${spec}#`));
      expect(own).toHaveLength(1);
      const e = own[0];
      if (e.status === 'uploaded' || e.status === 'skipped') expect(created.get(refOf(e.source))).toBe(1);
      else expect(e, JSON.stringify(e)).toMatchObject({ status: 'failed', code: 'UNKNOWN_OUTCOME' });
    }
    console.log(
      `blurb kills: ${m.entries.filter((e: any) => e.status !== 'failed').length} rendered, ${m.entries.filter((e: any) => e.code === 'UNKNOWN_OUTCOME').length} refused as UNKNOWN_OUTCOME, ${created.size} batches created`,
    );
  });

  it('kill -9 while the POST answer is on its way: the rerun creates nothing and names --resubmit; with it, exactly one more batch', async () => {
    const sb = await start(['--fault-rate', '1', '--faults', 'slow', '--slow-ms', '1500', '--seed', '4']);
    const dir = await tempDir('batchup-conf-blurb-lost-');
    const [spec] = await writeSpecs(join(dir, 'in'), 1, 40_000);
    const args = ['render', spec!, '--endpoint', sb.url, '--manifest', join(dir, 'manifest.json')];
    const run = execa('node', [BIN, ...args], { env: env(), extendEnv: false, reject: false });
    await waitFor(async () => (await sb.stats()).blurb.batchesCreated === 1, 'the batch to be created');
    run.kill('SIGKILL');
    await run;
    await settledValue(async () => requestsOf(await sb.stats()), 'requests the server saw', 300);

    const again = await cli(args, { env: env() });
    expect(again.exitCode, again.stderr).toBe(4);
    const m = await readJson(join(dir, 'manifest.json'));
    const ref = refOf(m.entries[0].source);
    expect(m.entries[0]).toMatchObject({ status: 'failed', code: 'UNKNOWN_OUTCOME' });
    expect(again.stderr).toContain(`--resubmit ${ref}`);
    expect((await sb.stats()).blurb.batchesCreated).toBe(1);

    const forced = await cli([...args, '--resubmit', ref], { env: env() });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect((await sb.stats()).blurb.batchesCreated).toBe(2);
    expect((await readJson(join(dir, 'manifest.json'))).entries[0]).toMatchObject({ status: 'uploaded' });
  });
});
