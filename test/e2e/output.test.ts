/** What a person (or a CI log, or a script) sees: TTY bars, plain lines, NDJSON, exit codes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { BIN, cleanEnv, cli, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-output-0c1d';
let sandbox: ServeHandle;
/** For the pty runs: processing slow enough (60 ms an image) that the batches surely overlap, even on a busy machine. */
let slow: ServeHandle;
let dir: string;
const env = () => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });

beforeAll(async () => {
  // Slow processing so the polling phase is visible.
  sandbox = await serve(['--token', TOKEN, '--process-ms', '10']);
  slow = await serve(['--token', TOKEN, '--process-ms', '60']);
  dir = await tempDir();
  await writePngs(join(dir, 'imgs'), 400, { seedBase: 50_000 });
  for (const n of [40, 120, 240]) await writePngs(join(dir, `n${n}`), n, { seedBase: 60_000 + n * 1000 });
});
afterAll(async () => {
  await sandbox?.stop();
  await slow?.stop();
});

describe('terminal output', () => {
  /** What a terminal of `cols` columns was asked to show: the text between line breaks, returns and cursor moves. */
  const screenLines = (raw: string) => raw.split(/\r|\n|\x1b\[[0-9;?]*[A-Za-z]/).filter((l) => l.length > 0);

  // 1, 3 and 12 batches in flight (the server takes its time, so they overlap), at 60 and 120 columns.
  for (const cols of [60, 120]) {
    for (const [inFlight, images] of [
      [1, 40],
      [3, 120],
      [12, 240],
    ] as const) {
      it(`a real pseudo-terminal, ${cols} columns, ${inFlight} batch(es) in flight: no line wider than the terminal, the overall numbers always there`, async () => {
        const manifest = join(dir, `tty-${cols}-${inFlight}.json`);
        const per = images / inFlight;
        const cmd = `stty cols ${cols} rows 30; node ${BIN} upload ${join(dir, `n${images}`)} --manifest ${manifest} --mode async --batch-size ${per} --concurrency ${inFlight}`;
        // `script` gives the CLI a real pty on stdin/stdout/stderr.
        const r = await execa('script', ['-qec', cmd, '/dev/null'], {
          env: { ...env(), BATCHUP_ENDPOINT: slow.bach, TERM: 'xterm-256color' },
          extendEnv: false,
          reject: false,
        });
        expect(r.exitCode, r.stdout.slice(-500)).toBe(0);
        const screen = r.stdout;
        expect(screen).toMatch(/\x1b\[/); // cursor control: the block is redrawn in place
        const lines = screenLines(screen);
        for (const l of lines) expect(l.length, JSON.stringify(l)).toBeLessThanOrEqual(cols);
        // The overall line: files, bytes and (once the server works) what it processed.
        const overall = lines.filter((l) => /^\S \d+\/\d+ files · /.test(l));
        expect(overall.length).toBeGreaterThan(0);
        expect(overall.some((l) => /\d+\/\d+ processed/.test(l))).toBe(true);
        if (inFlight > 1) expect(lines.some((l) => new RegExp(`${inFlight} batches in flight|batches in flight`).test(l))).toBe(true);
        // A batch line names its whole id.
        for (const l of lines.filter((x) => x.includes('batch bu-'))) expect(l).toMatch(/batch bu-[0-9a-f]{20}( |$)/);
        expect(screen).toMatch(/uploaded \d+, skipped 0, rejected 0, failed 0/);
        expect(screen).not.toContain(TOKEN);
      });
    }
  }

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
