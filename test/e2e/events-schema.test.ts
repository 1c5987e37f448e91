/**
 * `--json` is documented by docs/events.schema.json: every event of real runs of the built CLI —
 * both bach paths, a rerun, a dry run, hybrid, a render, downloads, retries, a failed batch, a
 * refused token, a usage error — validates against it, and every event type the schema names
 * turns up at least once (so the schema and the code cannot drift apart unnoticed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { cleanEnv, cli, ROOT, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';
import { writeMp4 } from '../../src/devtools/video.js';

const TOKEN = 'tok-schema-41aa';
let sandbox: ServeHandle;
let faulty: ServeHandle;
let dir: string;

beforeAll(async () => {
  [sandbox, faulty] = await Promise.all([
    serve(['--token', TOKEN, '--process-ms', '1']),
    serve(['--token', TOKEN, '--fault-rate', '1', '--faults', '500', '--seed', '2']),
  ]);
  dir = await tempDir('batchup-schema-');
  await writePngs(join(dir, 'few'), 4, { seedBase: 81_000 });
  await writePngs(join(dir, 'many'), 60, { seedBase: 82_000 });
  await writePngs(join(dir, 'wide'), 300, { seedBase: 83_000 });
  await writeFile(join(dir, 'few', 'fake.png'), '%PDF-1.4 not an image');
  await writeMp4(join(dir, 'clip.mp4'), 2 * 1024 * 1024);
});
afterAll(async () => {
  await Promise.all([sandbox?.stop(), faulty?.stop()]);
});

describe('--json events and their schema', () => {
  it('every event of real runs validates against docs/events.schema.json, and every type occurs', async () => {
    const schema = JSON.parse(await readFile(join(ROOT, 'docs', 'events.schema.json'), 'utf8'));
    const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
    const env = (endpoint?: string, token = TOKEN) => cleanEnv({ BATCHUP_TOKEN: token, ...(endpoint ? { BATCHUP_ENDPOINT: endpoint } : {}) });
    const runs: { args: string[]; env: Record<string, string>; code: number }[] = [
      { args: ['upload', 'few', 'gone.png', '--manifest', 'few.json', '--download', 'dl'], env: env(sandbox.bach), code: 3 },
      { args: ['upload', 'many', '--manifest', 'many.json'], env: env(sandbox.bach), code: 0 },
      { args: ['upload', 'many', '--manifest', 'many.json', '--exclude', 'img-00000.png'], env: env(sandbox.bach), code: 0 },
      { args: ['upload', 'many', '--dry-run', '--manifest', 'dry.json'], env: env(), code: 0 },
      // Planned while validating: a plan event per window, `more` until the last.
      { args: ['upload', 'wide', '--batch-size', '100', '--manifest', 'wide.json'], env: env(sandbox.bach), code: 0 },
      { args: ['upload', 'clip.mp4', '--provider', 'hybrid', '--manifest', 'video.json'], env: env(sandbox.url), code: 0 },
      { args: ['upload', 'few', '--exclude', 'fake.png', '--manifest', 'faulty.json', '--max-retries', '1'], env: env(faulty.bach), code: 4 },
      { args: ['upload', 'few', '--exclude', 'fake.png', '--manifest', 'auth.json'], env: env(sandbox.bach, 'wrong-token'), code: 5 },
      { args: ['upload', 'few', '--concurrency', 'lots'], env: env(sandbox.bach), code: 2 },
      { args: ['render', join(ROOT, 'fixtures', 'blurb', 'promo.json'), '--sandbox', '--manifest', 'render.json'], env: env(), code: 0 },
    ];
    const seen = new Set<string>();
    const widePlans: { batches: { files: number }[]; more?: { files: number; bytes: number } }[] = [];
    let count = 0;
    for (const run of runs) {
      const r = await cli([...run.args, '--json'], { cwd: dir, env: run.env });
      expect(r.exitCode, `${run.args.join(' ')}\n${r.stderr}`).toBe(run.code);
      for (const line of r.stdout.trim().split('\n')) {
        const event = JSON.parse(line);
        const ok = validate(event);
        expect(ok, `${run.args.join(' ')}: ${line.slice(0, 400)}\n${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
        seen.add(event.type);
        if (event.type === 'plan' && event.more) seen.add('plan.more');
        if (event.type === 'plan' && run.args[1] === 'wide') widePlans.push(event);
        count++;
      }
    }
    const documented = schema.oneOf.map((e: { properties: { type: { const: string } } }) => e.properties.type.const).sort();
    expect([...seen].filter((t) => t !== 'plan.more').sort()).toEqual(documented);
    expect(seen.has('plan.more')).toBe(true);
    // 300 inputs, batches of 100, windows of 200: two batches, then the last with nothing more to validate.
    expect(widePlans.map((p) => [p.batches.map((b) => b.files), p.more?.files])).toEqual([
      [[100, 100], 100],
      [[100], undefined],
    ]);
    expect(widePlans[0]!.more!.bytes).toBeGreaterThan(0);
    expect(count).toBeGreaterThan(200);
    await rm(join(dir, 'dl'), { recursive: true, force: true });
  }, 180_000);

  it('the schema rejects what is not an event (a field renamed, a type unknown)', async () => {
    const schema = JSON.parse(await readFile(join(ROOT, 'docs', 'events.schema.json'), 'utf8'));
    const validate = new Ajv2020({ strict: true }).compile(schema);
    expect(validate({ type: 'scan', candidates: 3 })).toBe(true);
    expect(validate({ type: 'scan', candidate: 3 })).toBe(false);
    expect(validate({ type: 'scanned', candidates: 3 })).toBe(false);
    expect(validate({ type: 'result', entry: { source: '/a.png', status: 'done', provider: 'bach' } })).toBe(false);
  });
});
