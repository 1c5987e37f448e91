/** What a person (or a CI log, or a script) sees: TTY bars, plain lines, NDJSON, exit codes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { BIN, cleanEnv, cli, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-output-0c1d';
let sandbox: ServeHandle;
let dir: string;
const env = () => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });

beforeAll(async () => {
  // Slow processing so the polling phase is visible.
  sandbox = await serve(['--token', TOKEN, '--process-ms', '4']);
  dir = await tempDir();
  await writePngs(join(dir, 'imgs'), 400, { seedBase: 50_000 });
});
afterAll(async () => {
  await sandbox?.stop();
});

describe('terminal output', () => {
  it('draws progress bars and a spinner in a real pseudo-terminal, then a clean summary', async () => {
    const manifest = join(dir, 'tty.json');
    const cmd = `stty cols 120 rows 40; node ${BIN} upload ${join(dir, 'imgs')} --manifest ${manifest}`;
    // `script` gives the CLI a real pty on stdin/stdout/stderr.
    const r = await execa('script', ['-qec', cmd, '/dev/null'], { env: { ...env(), TERM: 'xterm-256color' }, extendEnv: false, reject: false });
    expect(r.exitCode).toBe(0);
    const screen = r.stdout;
    expect(screen).toMatch(/\x1b\[/); // cursor control: bars are redrawn in place
    expect(screen).toMatch(/total/i);
    expect(screen).toMatch(/processed|batch/i);
    expect(screen).toMatch(/uploaded 400, skipped 0, rejected 0, failed 0/);
    expect(screen).not.toContain(TOKEN);
  });

  it('no carriage returns or escape codes when stderr is not a terminal', async () => {
    const run = await cli(['upload', join(dir, 'imgs'), '--manifest', join(dir, 'plain.json')], { env: env() });
    expect(run.exitCode).toBe(0);
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).not.toMatch(/\x1b\[/);
    expect(run.stderr).toMatch(/uploaded 400, skipped 0, rejected 0, failed 0 .*manifest: .*plain\.json/);
    expect(run.stdout).toBe('');
  });

  it('--json prints only NDJSON events on stdout, ending with the summary', async () => {
    const r = await cli(['upload', join(dir, 'imgs'), '--manifest', join(dir, 'json.json'), '--json'], { env: env() });
    expect(r.exitCode).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const types = new Set(events.map((e) => e.type));
    for (const t of ['scan', 'plan', 'batch-start', 'file-progress', 'poll', 'result', 'manifest', 'summary']) expect(types.has(t), t).toBe(true);
    expect(events.at(-1).type).toBe('summary');
    expect(events.at(-1).summary.uploaded).toBe(400);
    expect(events.filter((e) => e.type === 'result')).toHaveLength(400);
  });

  it('--quiet prints only the summary line; usage errors exit with the usage code', async () => {
    const q = await cli(['upload', join(dir, 'imgs'), '--manifest', join(dir, 'q.json'), '--quiet'], { env: env() });
    expect(q.exitCode).toBe(0);
    expect(q.stderr.trim().split('\n')).toHaveLength(1);
    const bad = await cli(['upload', join(dir, 'imgs'), '--mode', 'turbo'], { env: env() });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--mode/);
    const none = await cli(['upload', join(dir, 'imgs'), '--manifest', join(dir, 'n.json')], { env: cleanEnv({ BATCHUP_ENDPOINT: sandbox.bach }) });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/BATCHUP_TOKEN/);
  });
});
