/** Under injected faults every file still arrives exactly once, on both upload paths. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanEnv, cli, readJson, serve, sha256File, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-faults-91b2';
let sandbox: ServeHandle;
let dir: string;

beforeAll(async () => {
  sandbox = await serve([
    '--token',
    TOKEN,
    '--process-ms',
    '1',
    '--fault-rate',
    '0.2',
    '--faults',
    '500,503,429,reset,slow,lost',
    '--seed',
    '7',
    '--retry-after',
    '1',
    '--slow-ms',
    '300',
  ]);
  dir = await tempDir();
  await writePngs(join(dir, 'async'), 1000, { seedBase: 90_000 });
  await writePngs(join(dir, 'sync'), 300, { seedBase: 91_000 });
});
afterAll(async () => {
  await sandbox?.stop();
});

describe.each([
  ['async', 1000],
  ['sync', 300],
])('files through 20%% faults (%s, %i files)', (mode, count) => {
  it('all arrive exactly once and the manifest is exact', async () => {
    const manifestPath = join(dir, `${mode}.json`);
    const r = await cli(['upload', join(dir, mode), '--mode', mode, '--manifest', manifestPath, '--verbose', '--batch-id', `faults-${mode}`], {
      env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach }),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(manifestPath);
    expect(m.entries).toHaveLength(count);
    const stats = await sandbox.stats();
    for (const e of m.entries) {
      expect(e.status).toBe('uploaded');
      expect(e.sha256).toBe(await sha256File(e.source));
      // Accepted into a batch exactly once: lost responses were looked up, not resubmitted.
      expect(stats.receipts[e.sha256]).toBe(1);
    }
    const injected = Object.values(stats.faultsInjected).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(0);
  });
});
