/**
 * A file that arrived intact is never reported failed. 20 small videos (2 MiB: ftyp, moov, mdat)
 * through hybrid's single-PUT path, run after run against one `batchup serve`, clean and with
 * 30 % of API answers a 429: every run exits 0 with every file uploaded and byte-identical on the
 * server. (The false "integrity check failed: sent sha256 ," came from a hash taken after the
 * last byte, which the HTTP client need not ask for; a single green run proved nothing, so this
 * runs many in a row.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanEnv, cli, readJson, serve, sha256File, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writeMp4 } from '../../src/devtools/video.js';

const TOKEN = 'tok-integrity-81f2';
const FILES = 20;
const RUNS = 10;
let dir: string;
const sha = new Map<string, string>();
const servers: ServeHandle[] = [];

beforeAll(async () => {
  dir = await tempDir('batchup-integrity-');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'in'));
  for (let i = 0; i < FILES; i++) {
    const p = join(dir, 'in', `clip-${i}.mp4`);
    await writeMp4(p, 2 * 1024 * 1024 + i);
    sha.set(p, await sha256File(p));
  }
});
afterAll(async () => {
  for (const sb of servers) await sb.stop().catch(() => undefined);
});

describe.each([
  ['clean', [] as string[]],
  ['30% of API answers 429', ['--fault-rate', '0.3', '--faults', '429', '--retry-after', '0.1', '--seed', '5']],
])('hybrid single PUTs, %s', (_label, faults) => {
  it(`${RUNS} runs in a row: every file uploaded, none reported failed`, async () => {
    const sb = await serve(['--token', TOKEN, ...faults]);
    servers.push(sb);
    for (let run = 0; run < RUNS; run++) {
      const manifest = join(dir, `${faults.length ? 'faulty' : 'clean'}-${run}.json`);
      const r = await cli(['upload', join(dir, 'in'), '--provider', 'hybrid', '--manifest', manifest, '--quiet'], {
        env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sb.url }),
      });
      expect(r.exitCode, `run ${run}: ${r.stderr}`).toBe(0);
      const m = await readJson(manifest);
      expect(m.entries).toHaveLength(FILES);
      for (const e of m.entries) {
        expect(e.status, `run ${run}: ${e.error}`).toBe('uploaded');
        expect(e.sha256).toBe(sha.get(e.source));
        expect(e.remote.sha256).toBe(e.sha256);
      }
    }
    // Each run uploaded each file once: RUNS receipts per content, never more.
    const stats = await sb.stats();
    for (const s of sha.values()) expect(stats.receipts[s]).toBe(RUNS);
  });
});
