/**
 * claid's failures end to end: a refused key (exit 5, the token nowhere in the output), no API
 * calls left (nothing more sent, a clear message, exit 6), a 422 for one file (that file fails
 * with the server's message, the others go on, a rerun sends only it again).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePng, writePngs } from '../../src/devtools/generate.js';
import { cleanEnv, cli, readJson, sandboxes, tempDir, type ServeHandle } from '../helpers/cli.js';

const TOKEN = 'tok-claid-errors-9a2e';
const env = (sb: ServeHandle, token = TOKEN) => cleanEnv({ BATCHUP_TOKEN: token, BATCHUP_ENDPOINT: sb.url, BATCHUP_PROVIDER: 'claid' });

const start = sandboxes(['--token', TOKEN, '--process-ms', '1', '--rate-limit', '100;w=1']);

describe('a refused API key', () => {
  it('exit 5, and the token is in no output and no manifest', async () => {
    const sb = await start();
    const dir = await tempDir('batchup-claid-401-');
    await writePngs(join(dir, 'in'), 4);
    const wrong = 'tok-wrong-5c1d7e';
    const r = await cli(['upload', join(dir, 'in'), '--operations', '{}', '--manifest', join(dir, 'm.json')], { env: env(sb, wrong) });
    expect(r.exitCode, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/HTTP 401.*Authorization is required/);
    const manifest = await readFile(join(dir, 'm.json'), 'utf8');
    for (const text of [r.stdout, r.stderr, manifest]) expect(text).not.toContain(wrong);
  });
});

describe('no API calls left (402)', () => {
  it('local files: the edits before it kept, nothing more sent, a clear message, exit 6', async () => {
    const sb = await start(['--claid-api-calls', '3']);
    const dir = await tempDir('batchup-claid-402-');
    await writePngs(join(dir, 'in'), 8);
    const r = await cli(['upload', join(dir, 'in'), '--operations', '{}', '--concurrency', '1', '--manifest', join(dir, 'm.json')], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/no API calls left on this account \(HTTP 402.*No API calls left\.\): nothing more is sent; top up/);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.filter((e: any) => e.status === 'uploaded')).toHaveLength(3);
    expect(m.entries.filter((e: any) => e.status === 'failed').every((e: any) => e.code === 'QUOTA')).toBe(true);
    const stats = (await sb.stats()) as any;
    expect(stats.requests['claid.upload']).toBe(4); // three edits and the one refused: nothing after it
    expect(stats.claid.outOfCalls).toBe(1);
  });

  it('a URL batch with more images than calls left: refused before it runs, exit 6', async () => {
    const sb = await start(['--claid-api-calls', '2']);
    const dir = await tempDir('batchup-claid-402-urls-');
    await writePngs(join(dir, 'in'), 3);
    const bach = join(dir, 'bach.json');
    const b = await cli(['upload', join(dir, 'in'), '--provider', 'bach', '--manifest', bach], {
      env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: `${sb.url}/api/vdr` }),
    });
    expect(b.exitCode, b.stderr).toBe(0);
    const r = await cli(['upload', '--urls', bach, '--operations', '{}', '--manifest', join(dir, 'm.json')], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/HTTP 402/);
    expect(((await sb.stats()) as any).claid.batches).toBe(0);
  });
});

describe('a 422 for one file', () => {
  it('that file fails with the server message, the others go on; a rerun sends only it again', async () => {
    const sb = await start();
    const dir = await tempDir('batchup-claid-422-');
    await writePngs(join(dir, 'in'), 4);
    // 400 px × 5000 % = 20,000 px: over the output limit; the 16 px images stay under it.
    await writeFile(join(dir, 'in', 'wide.png'), makePng(77, { width: 400, height: 10 }));
    const args = ['upload', join(dir, 'in'), '--operations', '{"resizing":{"width":"5000%"}}', '--manifest', join(dir, 'm.json')];
    const r = await cli(args, { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(3);
    const m = await readJson(join(dir, 'm.json'));
    const wide = m.entries.find((e: any) => e.source.endsWith('wide.png'));
    expect(wide).toMatchObject({ status: 'failed', code: 'HTTP' });
    expect(wide.error).toMatch(/wide\.png: claid upload failed \(HTTP 422\): The output would be 20000x500, over the limit of 16383 px per side/);
    expect(m.entries.filter((e: any) => e.status === 'uploaded')).toHaveLength(4);
    expect(m.entries.filter((e: any) => e.status === 'uploaded').every((e: any) => e.remote.output_object.width === 800)).toBe(true);

    const before = ((await sb.stats()) as any).requests['claid.upload'];
    const again = await cli(args, { env: env(sb) });
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/uploaded 0, skipped 4, rejected 0, failed 1/);
    expect(((await sb.stats()) as any).requests['claid.upload']).toBe(before + 1);
  });
});
