/**
 * The core job end to end: the built CLI against a real `batchup serve`, checking what the
 * sandbox stored, the manifest, stdout/stderr and exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cleanEnv, cli, download, readJson, ROOT, serve, sha256, sha256File, tempDir, type ServeHandle } from '../helpers/cli.js';
import yauzl from 'yauzl';
import { writeMixedFolder, writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-e2e-3f9a1c77';
let sandbox: ServeHandle;
const env = () => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '1']);
});
afterAll(async () => {
  await sandbox?.stop();
});

/** Every uploaded URL serves the bytes of its source: the file, or for a ZIP's image the entry inside the ZIP. */
async function expectUrlsMatchFiles(manifest: any) {
  for (const e of manifest.entries.filter((x: any) => x.status === 'uploaded')) {
    const body = await download(e.url);
    const [zipPath, entryPath] = e.source.split('!/');
    const original = entryPath ? await zipEntryBytes(zipPath, entryPath) : await readFile(e.source);
    expect(sha256(body), e.source).toBe(sha256(original));
    if (e.sha256) expect(e.sha256).toBe(sha256(original));
  }
}

async function zipEntryBytes(zipPath: string, entryPath: string): Promise<Buffer> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((ok, fail) => {
        zip.once('entry', ok);
        zip.once('end', () => ok(undefined));
        zip.once('error', fail);
        zip.readEntry();
      });
      if (!entry) throw new Error(`${zipPath} has no entry ${entryPath}`);
      if (entry.fileName !== entryPath) continue;
      const chunks: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    }
  } finally {
    zip.close();
  }
}

describe('upload fixtures/images', () => {
  it('uploads every fixture and each manifest URL downloads the same bytes', async () => {
    const dir = await tempDir();
    const manifestPath = join(dir, 'm.json');
    const r = await cli(['upload', 'fixtures/images', '--manifest', manifestPath], { env: env() });
    expect(r.stderr).toMatch(/uploaded \d+/);
    expect(r.exitCode).toBe(0);
    const m = await readJson(manifestPath);
    expect(m.version).toBe(1);
    const fixtures = (await readdir(join(ROOT, 'fixtures/images'))).filter((f) => !f.endsWith('.md'));
    const sources = new Set(m.entries.map((e: any) => e.source.split('!/')[0]));
    for (const f of fixtures) expect(sources.has(resolve(ROOT, 'fixtures/images', f))).toBe(true);
    expect(m.entries.every((e: any) => e.status === 'uploaded' && e.url)).toBe(true);
    // A ZIP's images each get their own entry named <zip>!/<entry>.
    expect(m.entries.some((e: any) => e.source.includes('.zip!/'))).toBe(true);
    await expectUrlsMatchFiles(m);
  });

  it('--sandbox runs the same job with no endpoint or token configured', async () => {
    const dir = await tempDir();
    const r = await cli(['upload', join(ROOT, 'fixtures/images'), '--sandbox', '--manifest', join(dir, 'm.json')], { env: cleanEnv(), cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/manifest: .*m\.json/);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.length).toBeGreaterThan(0);
    expect(m.entries.every((e: any) => e.status === 'uploaded')).toBe(true);
  });
});

describe('650 generated images', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writePngs(join(dir, 'imgs'), 650);
  });

  it('--dry-run plans 3 async batches and uploads nothing', async () => {
    const before = (await sandbox.stats()).requests;
    const r = await cli(['upload', join(dir, 'imgs'), '--dry-run', '--json'], { env: env() });
    expect(r.exitCode).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const plan = events.find((e) => e.type === 'plan');
    expect(plan.batches).toHaveLength(3);
    expect(plan.batches.every((b: any) => b.mode === 'async' && b.files <= 300)).toBe(true);
    expect(plan.batches.reduce((n: number, b: any) => n + b.files, 0)).toBe(650);
    expect((await sandbox.stats()).requests).toEqual(before);
  });

  it('uploads all 650 in 3 batches; the manifest is exact', async () => {
    const manifestPath = join(dir, 'manifest.json');
    const before = Date.now();
    const r = await cli(['upload', join(dir, 'imgs'), '--manifest', manifestPath], { env: env() });
    const after = Date.now();
    expect(r.exitCode).toBe(0);
    const m = await readJson(manifestPath);
    expect(m.entries).toHaveLength(650);
    const batchIds = new Set(m.entries.map((e: any) => e.batchId));
    expect(batchIds.size).toBe(3);
    for (const e of m.entries) {
      expect(e.status).toBe('uploaded');
      expect(e.mode).toBe('async');
      expect(e.sha256).toBe(await sha256File(e.source));
      expect(e.url).toContain(e.sha256);
      // The server made the URL after it got the batch, during this run: it expires 30 days after that.
      const expires = Date.parse(e.expiresAt) - 30 * 24 * 3600 * 1000;
      expect(expires).toBeGreaterThanOrEqual(before);
      expect(expires).toBeLessThanOrEqual(Math.min(after, Date.parse(e.finishedAt)));
    }
    const stats = await sandbox.stats();
    for (const e of m.entries) expect(stats.receipts[e.sha256]).toBe(1);
  });
});

describe('bad input loses nothing', () => {
  it('sends only the valid files and reports every other one with file + rule', async () => {
    const dir = await tempDir();
    const files = await writeMixedFolder(join(dir, 'mixed'));
    const manifestPath = join(dir, 'm.json');
    const r = await cli(['upload', join(dir, 'mixed'), '--manifest', manifestPath], { env: env() });
    expect(r.exitCode).toBe(3);
    const m = await readJson(manifestPath);
    const bySource = new Map(m.entries.map((e: any) => [e.source, e]));
    const expectRule = (name: string, rule: RegExp) => {
      const e: any = bySource.get(files[name]);
      expect(e, name).toBeDefined();
      expect(e.status).toBe('rejected');
      expect(e.rule).toMatch(rule);
      expect(e.error).toContain(name);
      expect(r.stderr).toContain(name);
    };
    expectRule('report.jpg', /disguised/);
    expectRule('truncated.png', /corrupt/);
    expectRule('empty.png', /empty-file/);
    expectRule('huge.png', /too-large/);
    expectRule('evil.zip', /unsafe-zip/);
    expectRule('bomb.zip', /zip-bomb|too-large/);
    const uploaded = m.entries.filter((e: any) => e.status === 'uploaded');
    expect(uploaded.map((e: any) => e.source).sort()).toEqual([files['good-1.png'], files['good-2.png'], files['good-3.png']].sort());
    const stats = await sandbox.stats();
    for (const e of uploaded) expect(stats.receipts[e.sha256]).toBe(1);
    // Nothing of the rejected files reached the server.
    for (const name of ['report.jpg', 'truncated.png', 'huge.png']) {
      expect(stats.receipts[await sha256File(files[name]!)]).toBeUndefined();
    }
  });

  it('nothing valid: its own exit code, and the manifest still lists every file', async () => {
    const dir = await tempDir();
    const files = await writeMixedFolder(join(dir, 'mixed'));
    for (const f of ['good-1.png', 'good-2.png', 'good-3.png']) await import('node:fs/promises').then((fs) => fs.rm(files[f]!));
    const r = await cli(['upload', join(dir, 'mixed'), '--manifest', join(dir, 'm.json')], { env: env() });
    expect(r.exitCode).toBe(4);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries).toHaveLength(6);
    expect(m.entries.every((e: any) => e.status === 'rejected' && e.error)).toBe(true);
  });

  it('a path that does not exist is reported, the rest still upload', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'ok'), 2, { seedBase: 5000 });
    const r = await cli(['upload', join(dir, 'ok'), join(dir, 'missing.png'), '--manifest', join(dir, 'm.json')], { env: env() });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('missing.png');
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.filter((e: any) => e.status === 'uploaded')).toHaveLength(2);
  });
});

describe('modes and inputs', () => {
  it('--mode sync and --mode async both deliver; URL lists go async', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 5, { seedBase: 7000 });
    for (const mode of ['sync', 'async']) {
      const r = await cli(['upload', join(dir, 'a'), '--mode', mode, '--manifest', join(dir, `${mode}.json`)], { env: env() });
      expect(r.exitCode).toBe(0);
      const m = await readJson(join(dir, `${mode}.json`));
      expect(m.entries.every((e: any) => e.status === 'uploaded' && e.mode === mode)).toBe(true);
    }
    // Feed the URLs just produced back in as a URL list (with a comment and a blank line).
    const m = await readJson(join(dir, 'sync.json'));
    const list = ['# urls from the last run', '', ...m.entries.map((e: any) => e.url)].join('\n');
    const r = await cli(['upload', '--urls', '-', '--manifest', join(dir, 'urls.json')], { env: env(), input: list });
    expect(r.exitCode).toBe(0);
    const mu = await readJson(join(dir, 'urls.json'));
    expect(mu.entries.map((e: any) => e.source)).toEqual(m.entries.map((e: any) => e.url));
    expect(mu.entries.every((e: any) => e.status === 'uploaded' && e.mode === 'async')).toBe(true);
  });

  it('--batch-id and --name-template reach the server', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 2, { seedBase: 7100 });
    const r = await cli(['upload', join(dir, 'a'), '--batch-id', 'launch-2025', '--name-template', 'hero-{index}.{ext}', '--manifest', join(dir, 'm.json')], {
      env: env(),
    });
    expect(r.exitCode).toBe(0);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.map((e: any) => [e.batchId, e.name])).toEqual([
      ['launch-2025', 'hero-0.png'],
      ['launch-2025', 'hero-1.png'],
    ]);
  });

  it('a previous manifest is an input', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 3, { seedBase: 7200 });
    await cli(['upload', join(dir, 'a'), '--manifest', join(dir, 'one.json')], { env: env() });
    const r = await cli(['upload', '--from-manifest', join(dir, 'one.json'), '--manifest', join(dir, 'two.json')], { env: env() });
    expect(r.exitCode).toBe(0);
    const two = await readJson(join(dir, 'two.json'));
    expect(two.entries.map((e: any) => e.source)).toEqual((await readJson(join(dir, 'one.json'))).entries.map((e: any) => e.source));
  });

  it('the same files to a new manifest are uploaded again: a fresh upload never adopts an earlier batch', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 4, { seedBase: 7250 });
    const first = await cli(['upload', join(dir, 'a'), '--manifest', join(dir, 'one.json')], { env: env() });
    expect(first.exitCode).toBe(0);
    const before = await sandbox.stats();
    const started = Date.now();
    const again = await cli(['upload', join(dir, 'a'), '--manifest', join(dir, 'other.json')], { env: env() });
    expect(again.exitCode).toBe(0);
    const after = await sandbox.stats();
    const one = await readJson(join(dir, 'one.json'));
    const other = await readJson(join(dir, 'other.json'));
    // Submitted again (its own batch), every file stored a second time.
    expect(after.requests['bach.submit-with-files']).toBe((before.requests['bach.submit-with-files'] ?? 0) + 1);
    for (const e of other.entries) expect(after.receipts[e.sha256]).toBe((before.receipts[e.sha256] ?? 0) + 1);
    expect(other.entries[0].batchId).not.toBe(one.entries[0].batchId);
    // The bytes it reports are what it sent; its URLs expire 30 days after this upload.
    expect(other.summary.bytes).toBe(other.entries.reduce((n: number, e: any) => n + e.size, 0));
    for (const e of other.entries) expect(Date.parse(e.expiresAt) - 30 * 24 * 3600 * 1000).toBeGreaterThanOrEqual(started);
  });
});

describe('manifest file', () => {
  it('is written atomically and only once complete JSON', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 3, { seedBase: 7300 });
    const manifestPath = join(dir, 'out', 'm.json');
    const r = await cli(['upload', join(dir, 'a'), '--manifest', manifestPath], { env: env() });
    expect(r.exitCode).toBe(0);
    expect((await stat(manifestPath)).isFile()).toBe(true);
    expect((await readdir(join(dir, 'out'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    JSON.parse(await readFile(manifestPath, 'utf8'));
  });
});
