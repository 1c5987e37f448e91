/**
 * `batchup render` end to end: the built CLI against `batchup serve` on loopback, assets on a
 * loopback static server (a CDN stand-in), and the must-shows: pre-checks that create
 * nothing, 3 batches / 5 renders polled to the end with every URL downloadable, the same by
 * webhooks (GETs only after webhooks; a forged one changes nothing), and kill -9 after the
 * batches were created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { BIN, cleanEnv, cli, download, readJson, serve, sha256, tempDir, type ServeHandle } from '../helpers/cli.js';
import { batch, sandboxBatches, serveFolder, writeAssets, type StaticServer } from '../helpers/blurb.js';
import { waitFor } from '../helpers/wait.js';
import { isIsoBmff } from '../../src/core/validate/video.js';

const TOKEN = 'tok-blurb-e2e-7f3a';
const env = () => cleanEnv({ BATCHUP_TOKEN: TOKEN });
let assets: StaticServer;
let dir: string;
const servers: ServeHandle[] = [];

beforeAll(async () => {
  dir = await tempDir('batchup-blurb-');
  await writeAssets(join(dir, 'cdn'));
  assets = await serveFolder(join(dir, 'cdn'));
});
afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  await assets?.close();
});

async function sandbox(renderMs: number): Promise<ServeHandle> {
  const sb = await serve(['--token', TOKEN, '--render-ms', String(renderMs)]);
  servers.push(sb);
  return sb;
}

const good = () => ({ artwork: `${assets.url}/cover.png`, audio: `${assets.url}/track.mp3` });
const creates = async (sb: ServeHandle) => (await sb.stats()).requests['blurb.batches.create'] ?? 0;

/** 3 batches, 5 renders: 2 + 2 + 1. */
async function threeBatches(name: string): Promise<string> {
  const spec = join(dir, `${name}.json`);
  await writeFile(spec, JSON.stringify([batch(`${name}-a`, good(), 2), batch(`${name}-b`, good(), 2), batch(undefined, good(), 1)]));
  return spec;
}

async function expectAllRendered(manifestPath: string, sb: ServeHandle, downloads?: string) {
  const m = await readJson(manifestPath);
  expect(m.entries).toHaveLength(5);
  for (const e of m.entries) {
    expect(e, JSON.stringify(e)).toMatchObject({ status: 'uploaded', provider: 'blurb', mode: 'render' });
    expect(e.id).toBe(e.remote.renderId);
    expect(e.url).toBe(e.remote.renderUrl);
    expect(e.url.startsWith(`${sb.url}/renders/`)).toBe(true);
    expect(e.remote.status).toBe('COMPLETED');
    const video = await download(e.url);
    expect(isIsoBmff(video), 'a real MP4').toBe(true);
    if (downloads) {
      expect(e.download.sha256).toBe(sha256(video));
      expect(e.download.path.startsWith(downloads)).toBe(true);
    }
  }
  expect(new Set(m.entries.map((e: any) => e.batchId)).size).toBe(3);
  return m;
}

describe('batchup render', () => {
  it('a non-square artwork URL and a WAV named .mp3: both reasons printed, no batch created, exit 4', async () => {
    const sb = await sandbox(500);
    const spec = join(dir, 'bad.json');
    await writeFile(
      spec,
      JSON.stringify([batch('promo-ok', good()), { ...batch('promo-bad', { artwork: `${assets.url}/wide.png`, audio: `${assets.url}/song.mp3` }) }]),
    );
    const specB = join(dir, 'bad-local.json');
    // The same problems with local files (published under --asset-base-url), and a field broken outright.
    const broken = batch('broken', good());
    (broken.renders as any[])[0].videoSettings.aspectRatio = '21x9';
    await writeFile(specB, [broken, batch(undefined, { artwork: 'cdn/wide.png', audio: 'cdn/song.mp3' })].map((b) => JSON.stringify(b)).join('\n'));
    const r = await cli(['render', spec, specB, '--endpoint', sb.url, '--manifest', join(dir, 'bad-manifest.json'), '--asset-base-url', assets.url], {
      env: env(),
    });
    // promo-ok is fine but its spec goes through: exit 3 then. Run the bad batch alone for exit 4.
    expect(r.stderr).toContain(`${spec}#promo-bad: batch 2 (ref promo-bad)`);
    expect(r.stderr).toMatch(/artist\.artworkUrl: http:\/\/127\.0\.0\.1:\d+\/wide\.png: artwork must be square, this one is 1000×800 \(not-square\)/);
    expect(r.stderr).toMatch(/media\.audioUrl: http:\/\/127\.0\.0\.1:\d+\/song\.mp3: content is WAV, not MP3 \(disguised\)/);
    expect(r.stderr).toMatch(/bad-local\.json#broken: line 1 \(ref broken\): renders\[0\]\.videoSettings\.aspectRatio: unknown aspect ratio "21x9"/);
    expect(r.stderr).toMatch(
      /bad-local\.json#bu-[0-9a-f]{16}: line 2 \(ref bu-[0-9a-f]{16}\): artist\.artworkUrl: cdn\/wide\.png: artwork must be square, this one is 1000×800 \(not-square\); .*media\.audioUrl: cdn\/song\.mp3: content is WAV, not MP3 \(disguised\)/,
    );

    const alone = join(dir, 'bad-alone.json');
    await writeFile(alone, JSON.stringify(batch('promo-bad', { artwork: `${assets.url}/wide.png`, audio: `${assets.url}/song.mp3` })));
    const before = await creates(sb);
    const one = await cli(['render', alone, '--endpoint', sb.url, '--manifest', join(dir, 'bad-alone-manifest.json')], { env: env() });
    expect(one.exitCode, one.stderr).toBe(4);
    expect(one.stderr).toContain('(not-square)');
    expect(one.stderr).toContain('(disguised)');
    expect(one.stderr).toContain(`${alone}#promo-bad`);
    expect(await creates(sb)).toBe(before);
    const m = await readJson(join(dir, 'bad-alone-manifest.json'));
    expect(m.entries).toEqual([expect.objectContaining({ source: `${alone}#promo-bad`, status: 'rejected', rule: 'disguised' })]);
    // The first run created only promo-ok (1 batch), never promo-bad or the local one.
    expect(before).toBe(1);
    expect((await sandboxBatches(sb.url)).batches.map((b: any) => b.ref)).toEqual(['promo-ok']);
  });

  it('local assets need --asset-base-url or --sandbox, and say so', async () => {
    const spec = join(dir, 'local.json');
    await writeFile(spec, JSON.stringify(batch('local-1', { artwork: 'cdn/cover.png', audio: 'cdn/track.mp3' })));
    const r = await cli(['render', spec, '--endpoint', 'http://127.0.0.1:9', '--manifest', join(dir, 'local-m.json'), '--dry-run'], { env: env() });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/media\.audioUrl: is a local file, and blurb fetches assets by URL: .*--asset-base-url URL, or run with --sandbox \(bad-url\)/);
    const ok = await cli(['render', spec, '--sandbox', '--manifest', join(dir, 'local-sandbox.json'), '--download', join(dir, 'local-out')], { env: env() });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const m = await readJson(join(dir, 'local-sandbox.json'));
    expect(m.entries).toHaveLength(1);
    expect(m.entries[0]).toMatchObject({ status: 'uploaded', source: `${spec}#local-1!/0` });
    expect(m.entries[0].download.path).toMatch(/local-out\/local-1-0\.mp4$/);
  });

  it('3 batches, 5 renders, polled: all complete, every manifest URL downloads a real MP4 (--download too); a line per state change', async () => {
    const sb = await sandbox(1200);
    const spec = await threeBatches('polled');
    const manifest = join(dir, 'polled-manifest.json');
    const out = join(dir, 'polled-out');
    const r = await cli(['render', spec, '--endpoint', sb.url, '--manifest', manifest, '--download', out], { env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    await expectAllRendered(manifest, sb, out);
    expect(await creates(sb)).toBe(3);
    // A line per state change: each render's states once each, in order.
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('render '));
    for (const e of (await readJson(manifest)).entries) {
      const states = lines.filter((l) => l.includes(`(${e.id})`)).map((l) => /\): ([A-Z_]+) /.exec(l)![1]);
      expect(states[0]).toBe('PENDING');
      expect(states.at(-1)).toBe('COMPLETED');
      expect(new Set(states).size).toBe(states.length);
    }
    expect(r.stderr).toMatch(/uploaded 5, skipped 0, rejected 0, failed 0/);
    // Polled: every batch was asked about several times, and no webhook was sent.
    const s = await sb.stats();
    expect(s.webhooks.sent).toBe(0);
    expect(s.requests['blurb.batches.get']).toBeGreaterThanOrEqual(3);

    // The same command again: nothing created, everything skipped.
    const again = await cli(['render', spec, '--endpoint', sb.url, '--manifest', manifest], { env: env() });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/uploaded 0, skipped 5/);
    expect(await creates(sb)).toBe(3);
  });

  it('draws one bar per render in a real pseudo-terminal', async () => {
    const sb = await sandbox(2500);
    const spec = await threeBatches('tty');
    const manifest = join(dir, 'tty-manifest.json');
    const cmd = `stty cols 140 rows 40; node ${BIN} render ${spec} --endpoint ${sb.url} --manifest ${manifest}`;
    const r = await execa('script', ['-qec', cmd, '/dev/null'], { env: { ...env(), TERM: 'xterm-256color' }, extendEnv: false, reject: false });
    expect(r.exitCode, r.stdout).toBe(0);
    const screen = r.stdout;
    expect(screen).toMatch(/\x1b\[/); // redrawn in place
    for (const label of ['tty-a #0', 'tty-a #1', 'tty-b #0', 'tty-b #1']) expect(screen).toContain(label);
    expect(screen).toMatch(/tty-a #0\s+[█░]{20}\s+\d+% RENDERING — Rendering\./);
    // How each render ended stays on the screen above the block, once per render.
    for (const label of ['tty-a!/0', 'tty-a!/1', 'tty-b!/0', 'tty-b!/1']) {
      expect(screen.match(new RegExp(`render \\S*#${label} \\([^)]+\\): COMPLETED 100%`, 'g')), label).toHaveLength(1);
    }
    expect(screen).toMatch(/uploaded 5, skipped 0, rejected 0, failed 0/);
    expect(screen).not.toContain(TOKEN);
    await expectAllRendered(manifest, sb);
  });

  it('--webhook-listen: complete with GETs only after webhooks; a forged webhook with another renderUrl changes nothing', async () => {
    const sb = await sandbox(3000);
    const spec = await threeBatches('hooked');
    const manifest = join(dir, 'hooked-manifest.json');
    const port = await freePort();
    const run = execa('node', [BIN, 'render', spec, '--endpoint', sb.url, '--manifest', manifest, '--webhook-listen', `127.0.0.1:${port}`, '--json'], {
      env: env(),
      extendEnv: false,
      reject: false,
    });
    // Once the batches exist, forge a webhook for one of them: COMPLETE, with a renderUrl of our own.
    let listed: any;
    await waitFor(async () => (listed = await sandboxBatches(sb.url)).batches.length === 3 || run.exitCode !== null, 'three batches');
    const victim = listed.batches[0];
    const forged = {
      type: 'RENDER',
      ref: victim.ref,
      status: 'COMPLETE',
      progress: 100,
      message: 'Render completed.',
      batchId: victim.batchId,
      renderId: victim.renders[0].renderId,
      renderUrl: 'http://127.0.0.1:9/forged.mp4',
    };
    const forgedAt = Date.now();
    const answer = await fetch(`http://127.0.0.1:${port}/batchup/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(forged),
    });
    expect(answer.status).toBe(204);
    // Not small JSON: refused.
    const big = await fetch(`http://127.0.0.1:${port}/batchup/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...forged, pad: 'x'.repeat(64 * 1024) }),
    }).catch(() => undefined);
    expect(big === undefined || big.status === 413).toBe(true);
    const r = await run;
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await expectAllRendered(manifest, sb);
    expect(JSON.stringify(m)).not.toContain('forged');

    // How it waited: no polling loop — per batch, every GET followed a webhook, and there were no more GETs than webhooks.
    const after = await sandboxBatches(sb.url);
    let gets = 0;
    let hooks = 0;
    for (const b of after.batches) {
      const { trace } = b;
      const extra = b.batchId === victim.batchId ? 1 : 0; // the forged one may cost one GET
      expect(trace.webhooks.length).toBeGreaterThan(0);
      expect(trace.gets.length, `${b.ref}: ${trace.gets.length} GETs, ${trace.webhooks.length} webhooks`).toBeLessThanOrEqual(trace.webhooks.length + extra);
      expect(trace.gets.length).toBeGreaterThan(0);
      const hinted = [...trace.webhooks.map((w: any) => w.at), ...(extra ? [forgedAt] : [])];
      expect(Math.min(...trace.gets)).toBeGreaterThanOrEqual(Math.min(...hinted));
      gets += trace.gets.length;
      hooks += trace.webhooks.length;
    }
    const s = await sb.stats();
    expect(s.webhooks.delivered).toBe(hooks);
    console.log(`webhooks: ${hooks} delivered, ${gets} GETs for 3 batches / 5 renders`);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'render-progress' && e.status === 'COMPLETED')).toHaveLength(5);
  });

  it('--webhook-listen with every webhook lost: the slow safety poll finishes the run', async () => {
    const sb = await sandbox(1500);
    const spec = await threeBatches('lost');
    const manifest = join(dir, 'lost-manifest.json');
    const port = await freePort();
    const dead = await freePort();
    const started = Date.now();
    const r = await cli(
      [
        'render',
        spec,
        '--endpoint',
        sb.url,
        '--manifest',
        manifest,
        '--webhook-listen',
        `127.0.0.1:${port}`,
        '--webhook-url',
        `http://127.0.0.1:${dead}/nowhere`,
        '--webhook-poll',
        '1s',
      ],
      { env: env() },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    await expectAllRendered(manifest, sb);
    const s = await sb.stats();
    expect(s.webhooks.delivered).toBe(0);
    expect(s.webhooks.failed).toBeGreaterThan(0);
    // About one GET per second per batch, not a tight loop.
    const seconds = (Date.now() - started) / 1000;
    expect(s.requests['blurb.batches.get']).toBeLessThanOrEqual(3 * Math.ceil(seconds + 1));
  });

  it('an asset that changes after the pre-check: the server fails the renders, the manifest says why, and a rerun sends the batch again', async () => {
    const sb = await sandbox(600);
    // A first-bytes probe (a Range request) sees a square PNG; the server's full download a 1000×800 one.
    const fickle = createHttpServer(async (req, res) => {
      const body = await readFile(join(dir, 'cdn', req.headers.range ? 'cover.png' : 'wide.png'));
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((ok) => fickle.listen(0, '127.0.0.1', ok));
    try {
      const artwork = `http://127.0.0.1:${(fickle.address() as { port: number }).port}/cover.png`;
      const spec = join(dir, 'fickle.json');
      await writeFile(spec, JSON.stringify(batch('fickle', { artwork, audio: `${assets.url}/track.mp3` }, 2)));
      const args = ['render', spec, '--endpoint', sb.url, '--manifest', join(dir, 'fickle-manifest.json')];
      const r = await cli(args, { env: env() });
      expect(r.exitCode, r.stderr).toBe(4);
      const m = await readJson(join(dir, 'fickle-manifest.json'));
      expect(m.entries).toHaveLength(2);
      for (const e of m.entries) {
        expect(e).toMatchObject({ status: 'failed', code: 'REMOTE', remote: { status: 'FAILED' } });
        expect(e.error).toMatch(/FAILED: artist\.artworkUrl must be a square PNG or JPG image \(1000×800, not square\)/);
        expect(e.url).toBeUndefined();
      }
      expect(r.stderr).toMatch(/render .*fickle!\/0 .*FAILED/);
      const again = await cli(args, { env: env() });
      expect(again.exitCode).toBe(4);
      expect(await creates(sb)).toBe(2);
    } finally {
      fickle.close();
      fickle.closeAllConnections();
    }
  });

  it('kill -9 after the batches are created, then the same command: no batch created twice, all complete', async () => {
    const sb = await sandbox(4000);
    const spec = await threeBatches('killed');
    const manifest = join(dir, 'killed-manifest.json');
    const args = [BIN, 'render', spec, '--endpoint', sb.url, '--manifest', manifest, '--json'];
    const run = execa('node', args, { env: env(), extendEnv: false, reject: false });
    // The batch ids are journaled before `batch-submitted` is reported: kill once all three were.
    const submitted = new Set<string>();
    const lines = createInterface({ input: run.stdout! });
    lines.on('line', (l) => {
      const e = JSON.parse(l);
      if (e.type === 'batch-submitted') submitted.add(e.batchId);
    });
    await waitFor(() => submitted.size === 3 || run.exitCode !== null, 'three batches submitted');
    run.kill('SIGKILL');
    await run;
    expect(await creates(sb)).toBe(3);
    const before = await sandboxBatches(sb.url);
    expect(
      before.batches.some((b: any) => b.status !== 'COMPLETED'),
      'killed while rendering',
    ).toBe(true);

    const r = await cli(args.slice(1), { env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await creates(sb)).toBe(3);
    expect((await sb.stats()).blurb.batchesCreated).toBe(3);
    const m = await expectAllRendered(manifest, sb);
    expect(new Set(m.entries.map((e: any) => e.batchId))).toEqual(new Set(before.batches.map((b: any) => b.batchId)));
  });
});

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}
