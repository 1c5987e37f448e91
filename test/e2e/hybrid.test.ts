/**
 * hybrid end to end: the built CLI against `batchup serve`, with large generated videos
 * (300 MiB + 2 × 160 MiB chunked, 24 MiB as one PUT; the 1 GiB + 4 × 200 MiB run is bench/hybrid.js).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BIN, cleanEnv, cli, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writeMp4 } from '../../src/devtools/video.js';
import { settledValue, waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const TOKEN = 'tok-hybrid-5e1d';
const SIZES: Record<string, number> = { 'big.mp4': 300 * MiB, 'mid-1.mp4': 160 * MiB, 'mid-2.mp4': 160 * MiB + 12345, 'small.mp4': 24 * MiB };

let dir: string;
const originals = new Map<string, string>();
const servers: ServeHandle[] = [];

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: MiB })) h.update(c as Buffer);
  return h.digest('hex');
}

const objectPath = (sb: ServeHandle, sha: string) => join(sb.dataDir, 'objects', sha.slice(0, 2), sha);
const env = (sb: ServeHandle) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sb.url });

async function start(args: string[] = []): Promise<ServeHandle> {
  const sb = await serve(['--token', TOKEN, ...args]);
  servers.push(sb);
  return sb;
}

/** Every uploaded entry matches its original, and the sandbox assembled exactly those bytes. */
async function expectIdentical(sb: ServeHandle, manifest: any, files: string[]) {
  expect(manifest.entries).toHaveLength(files.length);
  for (const e of manifest.entries) {
    expect(e.status, e.error).toBe('uploaded');
    const name = e.source.split('/').pop();
    expect(e.sha256).toBe(originals.get(name));
    expect(e.size).toBe(SIZES[name]);
    expect(e.remote.sha256).toBe(e.sha256);
    expect(e.remote.status).toBe('processing');
    expect(e.id).toBe(e.remote.id);
    expect(e.url).toBe(`${sb.url}${e.remote.video_path}`);
    expect(await hashFile(objectPath(sb, e.sha256))).toBe(e.sha256);
  }
}

beforeAll(async () => {
  dir = await tempDir('batchup-hybrid-');
  for (const [name, size] of Object.entries(SIZES)) {
    await writeMp4(join(dir, 'in', name), size).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dir, 'in'), { recursive: true });
      await writeMp4(join(dir, 'in', name), size);
    });
    originals.set(name, await hashFile(join(dir, 'in', name)));
  }
});

afterAll(async () => {
  for (const sb of servers) await sb.stop().catch(() => undefined);
  for (const sb of servers) await rm(sb.dataDir, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hybrid upload', () => {
  it('a large and several other videos in one command: all complete, byte-identical, each part sent once', async () => {
    const sb = await start();
    const manifestPath = join(dir, 'm1.json');
    const r = await cli(['upload', join(dir, 'in'), '--provider', 'hybrid', '--manifest', manifestPath, '--verbose'], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(manifestPath);
    await expectIdentical(sb, m, Object.keys(SIZES));
    const stats = await sb.stats();
    // 60 + 32 + 33 chunks + 1 single PUT, each received exactly once.
    expect(Object.keys(stats.hybrid.partsReceived)).toHaveLength(60 + 32 + 33 + 1);
    expect(Math.max(...Object.values(stats.hybrid.partsReceived))).toBe(1);
    expect(stats.hybrid.partBytesReceived).toBe(Object.values(SIZES).reduce((a, b) => a + b, 0));
    expect(stats.hybrid.presignedWithAuth).toBe(0);
    expect(stats.requests['hybrid.init']).toBe(1);
    expect(stats.requests['hybrid.complete']).toBe(4);
    // The manifest URL serves the assembled file.
    const small = m.entries.find((e: any) => e.source.endsWith('small.mp4'));
    const res = await fetch(small.url);
    expect(res.status).toBe(200);
    expect(
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    ).toBe(small.sha256);
  });

  it('15% of chunk PUTs cut off and URLs expiring after 3 s: completes, each part received at most a few times', async () => {
    const sb = await start(['--part-fault-rate', '0.15', '--part-faults', 'cut', '--presign-ttl', '3', '--seed', '11']);
    const manifestPath = join(dir, 'm2.json');
    const r = await cli(['upload', join(dir, 'in'), '--provider', 'hybrid', '--manifest', manifestPath, '--verbose'], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectIdentical(sb, await readJson(manifestPath), Object.keys(SIZES));
    const stats = await sb.stats();
    const counts = Object.values(stats.hybrid.partsReceived);
    expect(counts).toHaveLength(60 + 32 + 33 + 1);
    expect(stats.faultsInjected['part-cut']).toBeGreaterThan(10);
    // Each failure costs that part one more send, no more: ~1/(1-0.15) sends per part on average,
    // and no part anywhere near the retry limit (P(6 cuts in a row) ≈ 1e-5 per part).
    expect(Math.max(...counts)).toBeLessThanOrEqual(6);
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThan(counts.length * 1.45);
    // Failed chunks were renewed through /retry (after /progress named them).
    expect(stats.requests['hybrid.retry']).toBeGreaterThan(0);
    expect(stats.requests['hybrid.progress']).toBeGreaterThan(0);
    console.log(
      `hybrid faults: ${stats.faultsInjected['part-cut']} cut, ${counts.length} parts, max ${Math.max(...counts)} receipts/part, ` +
        `${counts.filter((c) => c > 1).length} parts sent more than once, ${counts.reduce((a, b) => a + b, 0)} part bodies received, ` +
        `${stats.hybrid.partsRefused} PUTs refused (expired URLs), ${stats.requests['hybrid.retry']} /retry calls`,
    );
  });

  it('kill -9 halfway through a large upload; the same command again sends < 60% of the bytes and completes', async () => {
    const sb = await start();
    const manifestPath = join(dir, 'm3.json');
    const file = join(dir, 'in', 'big.mp4');
    const size = SIZES['big.mp4']!;
    const args = [BIN, 'upload', file, '--provider', 'hybrid', '--manifest', manifestPath];
    const first = execa('node', args, { env: env(sb), extendEnv: false, reject: false });
    await waitFor(async () => (await sb.stats()).hybrid.partBytesReceived >= size * 0.5, 'the first run to send half the file');
    first.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    // Bytes of the requests the kill cut off are still being counted for a moment.
    const atKill = await settledValue(async () => (await sb.stats()).hybrid.partBytesReceived, 'bytes received');
    expect(atKill).toBeGreaterThan(size * 0.4);
    expect(atKill).toBeLessThan(size);

    const r = await cli(args.slice(1), { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(manifestPath);
    expect(m.entries).toHaveLength(1);
    expect(m.entries[0].status).toBe('uploaded');
    expect(m.entries[0].sha256).toBe(originals.get('big.mp4'));
    const stats = await sb.stats();
    const again = stats.hybrid.partBytesReceived - atKill;
    console.log(`hybrid kill -9: ${((atKill / size) * 100).toFixed(0)}% received before the kill, ${((again / size) * 100).toFixed(0)}% sent again`);
    expect(again).toBeLessThan(size * 0.6);
    expect(stats.requests['hybrid.init']).toBe(1); // resumed, not started over
    expect(stats.requests['hybrid.verify']).toBe(1);
    expect(await hashFile(objectPath(sb, m.entries[0].sha256))).toBe(originals.get('big.mp4'));
  });

  it('kill -9 four times in a row (0.87, 0.39, 0.18, 0.68 s after each start), then to the end: every video completed exactly once', async () => {
    const sb = await start();
    const manifestPath = join(dir, 'm4.json');
    const args = [BIN, 'upload', join(dir, 'in'), '--provider', 'hybrid', '--manifest', manifestPath];
    for (const afterMs of [870, 390, 180, 680]) {
      const run = execa('node', args, { env: env(sb), extendEnv: false, reject: false });
      await new Promise((ok) => setTimeout(ok, afterMs));
      run.kill('SIGKILL');
      await run;
      await settledValue(async () => (await sb.stats()).partBytesReceived, 'bytes received');
    }
    const r = await cli(args.slice(1), { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectIdentical(sb, await readJson(manifestPath), Object.keys(SIZES));
    const stats = await sb.stats();
    // Completed (a video record made) once per file, whatever the kills interrupted.
    for (const name of Object.keys(SIZES)) expect(stats.receipts[originals.get(name)!], name).toBe(1);
  });

  it('kill -9 after the server completed a file but before its answer arrived: the rerun adopts it, no second record', async () => {
    // Every API answer leaves the server 1.5 s after the request was handled: `complete` has
    // assembled the video when the client is killed, waiting for the answer.
    const sb = await start(['--fault-rate', '1', '--faults', 'slow', '--slow-ms', '1500', '--seed', '1']);
    const manifestPath = join(dir, 'm5.json');
    const file = join(dir, 'in', 'small.mp4');
    const args = [BIN, 'upload', file, '--provider', 'hybrid', '--manifest', manifestPath];
    const run = execa('node', args, { env: env(sb), extendEnv: false, reject: false });
    await waitFor(async () => ((await sb.stats()).requests['hybrid.complete'] ?? 0) >= 1, 'the complete request to arrive');
    await waitFor(async () => (await sb.stats()).receipts[originals.get('small.mp4')!] === 1, 'the server to complete it');
    run.kill('SIGKILL');
    await run;
    const r = await cli(args.slice(1), { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(manifestPath);
    expect(m.entries[0]).toMatchObject({ status: 'uploaded', sha256: originals.get('small.mp4') });
    const stats = await sb.stats();
    expect(stats.receipts[originals.get('small.mp4')!]).toBe(1);
    expect(stats.requests['hybrid.init']).toBe(1); // not started over
  });
});
