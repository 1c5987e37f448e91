/**
 * `batchup manifest show|urls|verify` on real manifests, and `verify` reporting the URLs a
 * sandbox has expired (`batchup serve --cdn-ttl`: 410 Gone once the TTL has passed since the
 * object was stored) next to the live ones of a sandbox without a TTL. (Renewal on a re-upload is
 * tested on a held clock: test/unit/sandbox-cdn.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, cleanEnv, cli, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-manifest-9d04';
let sandbox: ServeHandle;
let lasting: ServeHandle;
let dir: string;

beforeAll(async () => {
  [sandbox, lasting] = await Promise.all([serve(['--token', TOKEN, '--cdn-ttl', '1']), serve(['--token', TOKEN])]);
  dir = await tempDir('batchup-mcmd-');
  await writePngs(join(dir, 'old'), 3, { seedBase: 63_000 });
  await writePngs(join(dir, 'new'), 2, { seedBase: 64_000 });
  await writeFile(join(dir, 'old', 'bad.png'), 'not a png');
});
afterAll(async () => {
  await Promise.all([sandbox?.stop(), lasting?.stop()]);
});

const env = (box = sandbox) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: box.bach });

describe('batchup manifest show | urls | verify', () => {
  it('verify reports the URLs the sandbox expired (410) and passes the fresh ones; show and urls read the same manifest', async () => {
    expect((await cli(['upload', 'old', '--manifest', 'old.json'], { cwd: dir, env: env() })).exitCode).toBe(3);
    const old = await readJson(join(dir, 'old.json'));
    const oldUrls = old.entries.filter((e: { url?: string }) => e.url).map((e: { url: string }) => e.url);
    expect(oldUrls).toHaveLength(3);
    // Wait (asking the sandbox, not sleeping a fixed time) until the old objects' TTL has passed.
    const gone = async (u: string) => (await fetch(u, { method: 'HEAD' })).status === 410;
    await waitFor(async () => (await Promise.all(oldUrls.map(gone))).every(Boolean), 'the old objects to expire', { everyMs: 100 });
    expect((await cli(['upload', 'new', '--manifest', 'new.json'], { cwd: dir, env: env(lasting) })).exitCode).toBe(0);
    // One manifest holding both (merge refuses two endpoints, rightly; verify does not care).
    const fresh = await readJson(join(dir, 'new.json'));
    await writeFile(join(dir, 'all.json'), JSON.stringify({ ...old, entries: [...old.entries, ...fresh.entries] }));

    const verify = await cli(['manifest', 'verify', 'all.json'], { cwd: dir });
    expect(verify.exitCode).toBe(3);
    const dead = verify.stdout.split('\n').filter((l) => l.startsWith('dead'));
    expect(dead).toHaveLength(3);
    for (const url of oldUrls) expect(verify.stdout).toMatch(new RegExp(`^dead +${url.replace(/[.?]/g, '\\$&')} +HTTP 410 \\(gone\\) — old/img-`, 'm'));
    expect(verify.stdout).toMatch(/verified 5 URLs in [\d.]+ m?s: 2 ok, 0 expiring within 3d, 3 dead, 0 unreachable/);

    const json = await cli(['manifest', 'verify', 'all.json', '--json'], { cwd: dir });
    expect(json.exitCode).toBe(3);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ checked: 5, ok: 2, dead: 3, expiring: 0, error: 0 });
    expect(report.urls.filter((u: { state: string; status: number }) => u.state === 'dead' && u.status === 410)).toHaveLength(3);

    // Only the fresh manifest: all fine (exit 0) — but its 30-day URLs expire within 31 days.
    expect((await cli(['manifest', 'verify', 'new.json'], { cwd: dir })).exitCode).toBe(0);
    const soon = await cli(['manifest', 'verify', 'new.json', '--within', '31d'], { cwd: dir });
    expect(soon.exitCode).toBe(3);
    expect(soon.stdout).toMatch(/2 expiring within 31d/);

    const urls = await cli(['manifest', 'urls', 'all.json'], { cwd: dir });
    expect(urls.exitCode).toBe(0);
    expect(urls.stdout.split('\n')).toHaveLength(5);
    for (const u of oldUrls) expect(urls.stdout.split('\n')).toContain(u);
    for (const u of urls.stdout.split('\n')) expect(u).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cdn\/[0-9a-f]{64}\.png$/);
    // A reader that stops early is no error.
    const head = await execa('sh', ['-c', `node ${BIN} manifest show all.json | head -1`], { cwd: dir, reject: false });
    expect(head.stderr).toBe('');

    const show = await cli(['manifest', 'show', 'all.json'], { cwd: dir });
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toMatch(/^provider bach · endpoint http:\/\/127\.0\.0\.1:\d+\/api\/vdr · updated /);
    expect(show.stdout).toContain('6 entries: 5 uploaded, 0 skipped, 1 rejected, 0 failed');
    expect(show.stdout).toMatch(/^STATUS +SOURCE +URL OR REASON$/m);
    expect(show.stdout).toMatch(/^rejected +old\/bad\.png +bad\.png: content is text, not PNG \(disguised\)$/m);
    expect(show.stdout).toMatch(/^uploaded +new\/img-00000\.png +http:\/\/127/m);
    expect(show.stdout.indexOf('old/bad.png')).toBeLessThan(show.stdout.indexOf('new/img-00000.png')); // the manifest's order
    const failedOnly = await cli(['manifest', 'show', 'all.json', '--status', 'rejected', '--json'], { cwd: dir });
    expect(
      failedOnly.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).source),
    ).toEqual([join(dir, 'old', 'bad.png')]);
    expect((await cli(['manifest', 'show', 'all.json', '--status', 'done'], { cwd: dir })).exitCode).toBe(2);
    expect((await cli(['manifest', 'show', 'nope.json'], { cwd: dir })).exitCode).toBe(2);
    expect(await readFile(join(dir, 'all.json'), 'utf8')).toContain(join(dir, 'old', 'bad.png'));
  });
});
