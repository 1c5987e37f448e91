/**
 * The rerun index end to end: a rerun over an unchanged tree with the same flags reads neither
 * the journal nor a file of the tree, sends nothing, and leaves the manifest and the output a
 * normal rerun would; anything that changed takes the normal path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, cp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cleanEnv, cli, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { makePng, writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-rerun-index-7a1c';
const DAY = 86_400_000;
let sandbox: ServeHandle;

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '0']);
});
afterAll(async () => {
  await sandbox?.stop();
});

const uploadRequests = async () => {
  const r = (await sandbox.stats()).requests;
  return (r['bach.submit'] ?? 0) + (r['bach.submit-with-files'] ?? 0);
};

/** A tree uploaded once, and a rerun of it that says which path it took (whether the journal or a file of the tree was opened). */
async function uploaded(count = 12) {
  const dir = await tempDir();
  const tree = join(dir, 'tree');
  const paths = await writePngs(tree, count, { seedBase: 720_000 });
  const manifest = join(dir, 'm.json');
  const state = join(dir, '.batchup');
  const opens = join(dir, 'opens.json');
  const env = (extra: Record<string, string> = {}) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach, ...extra });
  const run = async (flags: string[] = [], extra: Record<string, string> = {}) => {
    const watch = { NODE_OPTIONS: `--import=${join(ROOT, 'test/helpers/count-opens.mjs')}`, BATCHUP_TEST_WATCH_DIR: dir, BATCHUP_TEST_OPENS_OUT: opens };
    const r = await cli(['upload', tree, '--manifest', manifest, ...flags], { env: env({ ...watch, ...extra }) });
    const opened: string[] = JSON.parse(await readFile(opens, 'utf8'));
    return {
      ...r,
      journalRead: opened.some((p) => p.endsWith('journal.jsonl')),
      treeOpened: [...new Set(opened.filter((p) => p.startsWith(tree)))],
    };
  };
  const first = await cli(['upload', tree, '--manifest', manifest], { env: env() });
  expect(first.exitCode, first.stderr).toBe(0);
  const stateDir = join(state, readdirSync(state)[0]!);
  return { dir, tree, paths, manifest, stateDir, run, env };
}

/** The manifest's text from its entries on, and its head. */
async function parts(path: string) {
  const text = await readFile(path, 'utf8');
  const at = text.indexOf('\n  "entries": [');
  return { entries: text.slice(at), head: JSON.parse(`${text.slice(0, at).replace(/,$/, '')}\n}`) };
}

const timesMasked = (text: string) => text.replace(/in \d+(\.\d+)? m?s/g, 'in T').replace(/\d+ms/g, 'Tms');

describe('rerun index', () => {
  it('an unchanged tree: no journal read, no file opened, nothing sent; the manifest and the output are a normal rerun’s', async () => {
    const t = await uploaded();
    expect(existsSync(join(t.stateDir, 'rerun.json'))).toBe(true);
    const saved = join(t.dir, 'saved');
    await cp(t.stateDir, join(saved, 'state'), { recursive: true });
    await cp(t.manifest, join(saved, 'm.json'));

    const before = await uploadRequests();
    const fast = await t.run();
    expect(fast.exitCode, fast.stderr).toBe(0);
    expect(fast.journalRead).toBe(false);
    expect(fast.treeOpened).toEqual([]);
    expect(await uploadRequests()).toBe(before);
    const quick = await parts(t.manifest);

    // The same rerun the normal way: the upload's state as it was, without the index.
    await rm(t.stateDir, { recursive: true });
    await cp(join(saved, 'state'), t.stateDir, { recursive: true });
    await cp(join(saved, 'm.json'), t.manifest);
    await rm(join(t.stateDir, 'rerun.json'));
    const normal = await t.run();
    expect(normal.exitCode, normal.stderr).toBe(0);
    expect(normal.journalRead).toBe(true);
    expect(normal.treeOpened).toEqual([]);
    const slow = await parts(t.manifest);

    expect(quick.entries).toBe(slow.entries); // byte for byte
    const timeless = (h: any) => ({ ...h, createdAt: 'T', updatedAt: 'T', summary: { ...h.summary, durationMs: 0 } });
    expect(timeless(quick.head)).toEqual(timeless(slow.head));
    expect(Object.keys(quick.head)).toEqual(Object.keys(slow.head));
    expect(Object.keys(quick.head.summary)).toEqual(Object.keys(slow.head.summary));
    expect(quick.head.summary).toMatchObject({ uploaded: 0, skipped: 12, rejected: 0, failed: 0, bytes: 0, interrupted: false, dryRun: false });
    expect(timesMasked(fast.stderr)).toBe(timesMasked(normal.stderr));
    expect(fast.stdout).toBe(normal.stdout);

    // The normal rerun left an index too; the next rerun (of a rerun's manifest) copies it as it is.
    const again = await t.run(['--quiet']);
    expect(again.journalRead).toBe(false);
    expect(again.stderr).toMatch(/uploaded 0, skipped 12, rejected 0, failed 0/);
    expect((await parts(t.manifest)).entries).toBe(slow.entries);
  });

  it('a shard (--shard K/N) keeps its own index: its unchanged rerun is the quick one, its manifest still names the shard', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    await writePngs(tree, 30, { seedBase: 725_000 });
    const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });
    const opens = join(dir, 'opens.json');
    const watch = { NODE_OPTIONS: `--import=${join(ROOT, 'test/helpers/count-opens.mjs')}`, BATCHUP_TEST_WATCH_DIR: dir, BATCHUP_TEST_OPENS_OUT: opens };
    const shard = (extra: Record<string, string> = {}) =>
      cli(['upload', tree, '--shard', '2/3', '--manifest', join(dir, 'm2.json')], { env: { ...env, ...extra } });
    const first = await shard();
    expect(first.exitCode, first.stderr).toBe(0);
    const firstManifest = await readJson(join(dir, 'm2.json'));
    expect(firstManifest.entries.length).toBeGreaterThan(0);
    expect(firstManifest.entries.length).toBeLessThan(30);
    const before = await uploadRequests();
    const again = await shard(watch);
    expect(again.exitCode, again.stderr).toBe(0);
    const opened: string[] = JSON.parse(await readFile(opens, 'utf8'));
    expect(opened.some((p) => p.endsWith('journal.jsonl'))).toBe(false);
    expect(await uploadRequests()).toBe(before);
    const m = await readJson(join(dir, 'm2.json'));
    expect(m.shard).toEqual({ index: 2, total: 3 });
    expect(m.entries.map((e: { source: string }) => e.source)).toEqual(firstManifest.entries.map((e: { source: string }) => e.source));
    expect(m.summary).toMatchObject({ uploaded: 0, skipped: firstManifest.entries.length });
  });

  it('the plain output and the log file say what a normal rerun says', async () => {
    const t = await uploaded(3);
    const log = join(t.dir, 'run.log');
    const fast = await t.run(['--log-file', log]);
    expect(fast.journalRead).toBe(false);
    await rm(join(t.stateDir, 'rerun.json'));
    const normal = await t.run(['--log-file', log]);
    expect(normal.journalRead).toBe(true);
    const runs = (await readFile(log, 'utf8')).split(/^.*batchup upload.*$/m).slice(1);
    expect(runs).toHaveLength(2);
    const masked = runs.map((r) => timesMasked(r).replace(/^\S+ \[\d+\] /gm, ''));
    expect(masked[0]).toBe(masked[1]);
  });

  it('--json and --verbose show each skipped entry: the normal path', async () => {
    const t = await uploaded(2);
    const json = await t.run(['--json']);
    expect(json.journalRead).toBe(true);
    expect(json.stdout.split('\n').filter((l) => l.includes('"type":"result"'))).toHaveLength(2);
    const verbose = await t.run(['--verbose']);
    expect(verbose.journalRead).toBe(true);
    expect(verbose.stderr).toMatch(/skipped .*unchanged since the last upload/);
  });

  describe('anything that changed takes the normal path', () => {
    it('a file touched (only its mtime moved): hashed, skipped', async () => {
      const t = await uploaded(4);
      await utimes(t.paths[1]!, new Date(), new Date(Date.now() + 60_000));
      const r = await t.run();
      expect(r.journalRead).toBe(true);
      expect(r.treeOpened).toEqual([t.paths[1]]);
      expect(r.stderr).toMatch(/uploaded 0, skipped 4/);
      expect((await t.run()).journalRead).toBe(false); // and the next rerun is quick again
    });

    it('a file changed, added or removed', async () => {
      const t = await uploaded(4);
      await writeFile(t.paths[0]!, makePng(990_001));
      const changed = await t.run();
      expect(changed.journalRead).toBe(true);
      expect(changed.stderr).toMatch(/uploaded 1, skipped 3/);

      await writeFile(join(t.tree, 'zz-new.png'), makePng(990_002));
      const added = await t.run();
      expect(added.journalRead).toBe(true);
      expect(added.stderr).toMatch(/uploaded 1, skipped 4/);

      await rm(t.paths[2]!);
      const removed = await t.run();
      expect(removed.journalRead).toBe(true);
      expect(removed.stderr).toContain(`gone ${t.paths[2]}`);
      // An input gone (kept in the manifest) is reported on every run: no index while there is one.
      expect((await t.run()).journalRead).toBe(true);
      await t.run(['--prune']);
      expect((await t.run()).journalRead).toBe(false);
    });

    it('the manifest edited by hand, or gone', async () => {
      const t = await uploaded(3);
      const m = await readJson(t.manifest);
      m.entries[0].url = 'https://example.invalid/edited';
      await writeFile(t.manifest, JSON.stringify(m, null, 2));
      const edited = await t.run();
      expect(edited.journalRead).toBe(true);
      expect((await readJson(t.manifest)).entries[0].url).not.toBe('https://example.invalid/edited');
      await rm(t.manifest);
      const gone = await t.run();
      expect(gone.journalRead).toBe(true);
      expect((await readJson(t.manifest)).entries).toHaveLength(3);
    });

    it('the journal appended to by another run', async () => {
      const t = await uploaded(3);
      await appendFile(join(t.stateDir, 'journal.jsonl'), `${JSON.stringify({ t: 'kv', key: 'other', value: 1 })}\n`);
      const r = await t.run();
      expect(r.journalRead).toBe(true);
      expect(r.stderr).toMatch(/uploaded 0, skipped 3/);
    });

    it('other flags that decide a skip, and --force, --prune, --dry-run', async () => {
      const t = await uploaded(3);
      expect((await t.run(['--name-template', 'x-{name}'])).journalRead).toBe(true);
      expect((await t.run(['--name-template', 'x-{name}'])).journalRead).toBe(false);
      expect((await t.run()).journalRead).toBe(true); // the template changed back
      for (const flag of ['--force', '--prune', '--dry-run']) expect((await t.run([flag])).journalRead, flag).toBe(true);
    });

    it('URLs close to their expiry are refreshed', async () => {
      const t = await uploaded(2);
      const at = (days: number) => ({ BATCHUP_NOW: String(Date.now() + days * DAY) });
      const early = await t.run([], at(20));
      expect(early.journalRead).toBe(false);
      expect(early.stderr).toMatch(/uploaded 0, skipped 2/);
      const within = await t.run(['--refresh-before', '15d'], at(20));
      expect(within.journalRead).toBe(true);
      expect(within.stderr).toMatch(/uploaded 2, skipped 0/);
      const late = await t.run([], at(20 + 28));
      expect(late.journalRead).toBe(true);
      expect(late.stderr).toMatch(/uploaded 2, skipped 0/);
    });
  });
});
