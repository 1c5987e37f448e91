/**
 * --bwlimit: one byte budget for every request body of the run. Measured from the built CLI's own
 * --json progress (first byte reported to last), over several files in flight at once, on hybrid
 * (raw PUTs) and on both bach paths (multipart, Base64 JSON). The rate must not pass the limit (an
 * upper bound a slow machine cannot break); the lower bound is loose (bench/bwlimit.js measures
 * the precise figure: 200 MiB under 20M).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BIN, cleanEnv, cli, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { makePng } from '../../src/devtools/generate.js';
import { writeMp4 } from '../../src/devtools/video.js';

const MiB = 1024 * 1024;
const TOKEN = 'tok-bw-55c1';
let sandbox: ServeHandle;
let dir: string;

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '0']);
  dir = await tempDir('batchup-bw-');
  await writeMp4(join(dir, 'v1.mp4'), 5 * MiB);
  await writeMp4(join(dir, 'v2.mp4'), 5 * MiB);
  for (let i = 0; i < 60; i++) await writeFile(join(dir, `p${String(i).padStart(2, '0')}.png`), makePng(700_000 + i, { minBytes: 40_000 }));
});
afterAll(async () => {
  await sandbox?.stop();
});

/** Run with --json, timing each event as it arrives: the bytes of the files over the window from the first progress to the last file done. */
async function measure(args: string[], endpoint: string): Promise<{ rate: number; bytes: number; seconds: number }> {
  const p = execa('node', [BIN, 'upload', ...args, '--json'], {
    cwd: dir,
    env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: endpoint }),
    extendEnv: false,
    reject: false,
  });
  const sent = new Map<string, number>();
  const totals = new Map<string, number>();
  let first: number | undefined;
  let last = 0;
  let buffer = '';
  p.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    const at = performance.now();
    for (const line of lines) {
      const e = JSON.parse(line);
      if (e.type !== 'file-progress') continue;
      first ??= at;
      sent.set(e.source, e.sent);
      totals.set(e.source, e.total);
      if (e.sent >= e.total) last = at;
    }
  });
  const r = await p;
  expect(r.exitCode, r.stderr).toBe(0);
  const bytes = [...totals.values()].reduce((a, b) => a + b, 0);
  expect([...sent.values()].reduce((a, b) => a + b, 0)).toBe(bytes);
  const seconds = (last - first!) / 1000;
  return { rate: bytes / seconds, bytes, seconds };
}

describe('--bwlimit', () => {
  it('hybrid: two videos at once share 4 MiB/s (no more, and not far less)', async () => {
    const limit = 4 * MiB;
    const m = await measure(['v1.mp4', 'v2.mp4', '--provider', 'hybrid', '--manifest', 'h.json', '--bwlimit', '4M'], sandbox.url);
    expect(m.bytes).toBe(10 * MiB);
    // 50 ms of burst allowance plus one slice in flight per file: a little above over a short window.
    expect(m.rate).toBeLessThanOrEqual(limit * 1.1);
    expect(m.rate).toBeGreaterThan(limit * 0.25);
  });

  it('bach: multipart and Base64 JSON bodies draw from the same budget (bytes on the wire over the whole command)', async () => {
    const limit = 1 * MiB;
    // Small files are reported sent when read, a whole file ahead of the budget: here the sandbox
    // counts what arrived and the clock runs for the whole command, so the bound is safe.
    const wire = async (args: string[]) => {
      const before = (await sandbox.stats()).bytesReceived;
      const t0 = performance.now();
      const r = await cli(['upload', '.', ...args, '--bwlimit', '1M'], { cwd: dir, env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach }) });
      const seconds = (performance.now() - t0) / 1000;
      expect(r.exitCode, r.stderr).toBe(0);
      const bytes = (await sandbox.stats()).bytesReceived - before;
      return { bytes, rate: bytes / seconds };
    };
    const sync = await wire(['--include', 'p[0-3]*.png', '--mode', 'sync', '--manifest', 's.json']);
    expect(sync.bytes).toBeGreaterThan(40 * 40_000);
    expect(sync.rate).toBeLessThanOrEqual(limit * 1.1);
    const json = await wire(['--include', 'p*.png', '--mode', 'async', '--manifest', 'a.json', '--force']);
    expect(json.bytes).toBeGreaterThan((60 * 40_000 * 4) / 3);
    expect(json.rate).toBeLessThanOrEqual(limit * 1.1);
    expect(json.rate).toBeGreaterThan(limit * 0.25);
  });

  it('refuses a rate it cannot read or that is too small (exit 2, before any file is read)', async () => {
    for (const bad of ['fast', '10 parsecs', '512', '0']) {
      const r = await cli(['upload', dir, '--bwlimit', bad, '--dry-run']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('--bwlimit');
    }
  });
});
