import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { BatchupEvent, PlannedBatch, RunSummary } from '../../src/core/events.js';
import { addSecret } from '../../src/cli/redact.js';
import { createRenderer, pickRendererKind } from '../../src/cli/render/index.js';
import { formatBytes, formatDuration, formatSummary, truncateMiddle } from '../../src/cli/render/format.js';
import { JsonRenderer } from '../../src/cli/render/json.js';
import { PlainRenderer, describeEvent, progressLine } from '../../src/cli/render/plain.js';
import { Stats } from '../../src/cli/render/stats.js';
import { wrapLine } from '../../src/cli/render/frame.js';

function sink(isTTY = false) {
  const chunks: string[] = [];
  return {
    chunks,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean),
    write(s: string) {
      chunks.push(s);
      return true;
    },
    isTTY,
  };
}

const batch = (id: string, files: number, bytes: number): PlannedBatch => ({
  batchId: id,
  mode: 'sync',
  reason: 'few files',
  files,
  images: files,
  bytes,
  sources: [],
});

const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  uploaded: 647,
  skipped: 0,
  rejected: 3,
  failed: 0,
  bytes: 12_300_000,
  durationMs: 4200,
  manifestPath: '/abs/path/batchup-manifest.json',
  interrupted: false,
  dryRun: false,
  ...over,
});

function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const opts = (over = {}) => ({ quiet: false, verbose: false, progress: true, color: false, timer: false, ...over });

describe('format', () => {
  it('bytes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(12_300_000)).toBe('12.3 MB');
    expect(formatBytes(999_960)).toBe('1.0 MB');
    expect(formatDuration(450)).toBe('450 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
  });
  it('truncateMiddle keeps both ends', () => {
    expect(truncateMiddle('a-very-long-file-name.jpg', 12)).toBe('a-very…e.jpg');
    expect(truncateMiddle('short.jpg', 12)).toBe('short.jpg');
    expect(truncateMiddle('a-very-long-file-name.jpg', 12)).toHaveLength(12);
  });
  it('summary line', () => {
    expect(formatSummary(summary())).toBe('uploaded 647, skipped 0, rejected 3, failed 0 — 12.3 MB in 4.2 s — manifest: /abs/path/batchup-manifest.json');
    expect(formatSummary(summary({ interrupted: true }))).toMatch(/^interrupted: uploaded 647/);
    expect(formatSummary(summary({ dryRun: true, manifestPath: undefined, uploaded: 0 }), { plannedFiles: 10, plannedBatches: 2, plannedBytes: 5000 })).toBe(
      'dry run: would upload 10 files in 2 batches (5.0 kB), skipped 0, rejected 3 — nothing was sent — took 4.2 s',
    );
  });
});

describe('pickRendererKind', () => {
  it('json > quiet/no-progress/non-TTY plain > tty', () => {
    const tty = { isTTY: true, columns: 120 };
    expect(pickRendererKind({ json: true }, tty, {})).toBe('json');
    expect(pickRendererKind({ quiet: true }, tty, {})).toBe('plain');
    expect(pickRendererKind({ progress: false }, tty, {})).toBe('plain');
    expect(pickRendererKind({}, { isTTY: false }, {})).toBe('plain');
    expect(pickRendererKind({}, tty, { TERM: 'dumb' })).toBe('plain');
    expect(pickRendererKind({}, { isTTY: true, columns: 0 }, {})).toBe('plain');
    expect(pickRendererKind({}, tty, {})).toBe('tty');
  });
  it('NO_COLOR turns colour off even on a TTY', async () => {
    const err = sink(true);
    const r = await createRenderer({ quiet: true }, { stdout: sink(), stderr: err }, { NO_COLOR: '1' }, { timer: false });
    r.event({ type: 'reject', rejection: { source: '/a.jpg', rule: 'corrupt', message: 'a.jpg: corrupt' } });
    expect(err.text()).not.toContain('\u001b[');
  });
});

describe('Stats', () => {
  it('counts files, bytes and batches in flight from events', () => {
    const s = new Stats();
    s.update({ type: 'reject', rejection: { source: '/bad.jpg', rule: 'corrupt', message: 'bad' } });
    s.update({ type: 'plan', provider: 'bach', dryRun: false, batches: [batch('b1', 2, 300), batch('b2', 1, 100)] });
    expect(s.filesTotal).toBe(4);
    expect(s.filesDone).toBe(1);
    s.update({ type: 'batch-start', batchId: 'b1', mode: 'sync', files: 2, bytes: 300 });
    s.update({ type: 'file-progress', batchId: 'b1', source: '/a.jpg', sent: 100, total: 200 });
    s.update({ type: 'file-progress', batchId: 'b1', source: '/a.jpg', sent: 150, total: 200 });
    expect(s.bytesSent).toBe(150);
    expect(s.batchesInFlight).toBe(1);
    s.update({ type: 'batch-submitted', batchId: 'b1', mode: 'sync', attempt: 1 });
    expect(s.bytesSent).toBe(150); // measured, never assumed from the plan
    s.update({ type: 'file-progress', batchId: 'b1', source: '/a.jpg', sent: 200, total: 200 });
    s.update({ type: 'file-progress', batchId: 'b1', source: '/b.jpg', sent: 100, total: 100 });
    expect(s.bytesSent).toBe(300);
    // A resumed file: what the server already had is not counted as sent.
    const r = new Stats();
    r.update({ type: 'file-progress', batchId: 'b9', source: '/v.mp4', sent: 500, total: 1000, resumed: 400 });
    expect(r.bytesSent).toBe(100);
    s.update({ type: 'result', entry: { source: '/a.jpg', status: 'uploaded', provider: 'bach' } });
    // The same source reported twice (reject event + rejected result) counts once.
    s.update({ type: 'result', entry: { source: '/bad.jpg', status: 'rejected', provider: 'bach' } });
    s.update({ type: 'batch-done', batchId: 'b1', uploaded: 1, failed: 0 });
    expect(s.filesDone).toBe(2);
    expect(s.batchesInFlight).toBe(0);
    expect(progressLine(s)).toBe('progress: 2/4 files, 300 B/400 B, 0 batches in flight');
  });

  it('a run with no file content to send (URLs, render specs) shows no byte counts, and its batches are submitted, not uploaded', () => {
    const s = new Stats();
    s.update({ type: 'plan', provider: 'blurb', dryRun: false, batches: [{ ...batch('r1', 1, 0), mode: 'render' }] });
    s.update({ type: 'batch-start', batchId: 'r1', mode: 'render', files: 1, bytes: 0 });
    expect(progressLine(s)).toBe('progress: 0/1 files, 1 batch in flight');
    const lines = describeEvent({ type: 'batch-start', batchId: 'r1', mode: 'render', files: 1, bytes: 0 }, (_c, t) => t, new Set());
    expect(lines.map((l) => l.text)).toEqual(['batch r1: submitting 1 input (render, no file content to upload)']);
    const files = describeEvent({ type: 'batch-start', batchId: 'b1', mode: 'async', files: 2, bytes: 2048 }, (_c, t) => t, new Set());
    expect(files.map((l) => l.text)).toEqual(['batch b1: uploading 2 files (2.0 kB, async)']);
  });

  it('counts a skipped input once, whether its entries are shown after it or not', () => {
    const s = new Stats();
    for (const source of ['/a.jpg', '/b.jpg', '/c.jpg']) s.update({ type: 'skip', source, reason: 'unchanged' });
    expect([s.filesDone, s.count('skipped')]).toEqual([3, 3]);
    s.update({ type: 'result', entry: { source: '/a.jpg', status: 'skipped', provider: 'bach' } });
    s.update({ type: 'skip', source: '/d.jpg', reason: 'unchanged' });
    s.update({ type: 'result', entry: { source: '/d.jpg', status: 'skipped', provider: 'bach' } });
    s.update({ type: 'reject', rejection: { source: '/e.jpg', rule: 'corrupt', message: 'bad' } });
    expect([s.filesDone, s.count('skipped'), s.count('rejected')]).toEqual([5, 4, 1]);
  });
});

describe('PlainRenderer', () => {
  const plan: BatchupEvent = { type: 'plan', provider: 'bach', dryRun: false, batches: [batch('b1', 650, 45_600_000)] };

  it('prints a progress line at most every 5 s (fake clock), never a carriage return', () => {
    const err = sink();
    const clock = fakeClock();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts({ now: clock.now }));
    r.event(plan);
    r.event({ type: 'batch-start', batchId: 'b1', mode: 'sync', files: 650, bytes: 45_600_000 });
    r.event({ type: 'file-progress', batchId: 'b1', source: '/x.jpg', sent: 12_300_000, total: 12_300_000 });
    expect(r.tick()).toBe(false); // t = 0
    clock.advance(4_999);
    expect(r.tick()).toBe(false);
    clock.advance(1);
    expect(r.tick()).toBe(true); // t = 5 s
    expect(err.lines().at(-1)).toBe('progress: 0/650 files, 12.3 MB/45.6 MB, 1 batch in flight');
    // Ticks every 500 ms for the next 4.5 s print nothing, even when numbers change.
    for (let i = 0; i < 9; i++) {
      clock.advance(500);
      r.event({ type: 'file-progress', batchId: 'b1', source: `/y${i}.jpg`, sent: 1_000_000, total: 1_000_000 });
      expect(r.tick()).toBe(false);
    }
    clock.advance(500);
    expect(r.tick()).toBe(true);
    expect(err.lines().filter((l) => l.startsWith('progress:'))).toHaveLength(2);
    expect(err.text()).not.toContain('\r');
    expect(err.text()).not.toContain('\u001b');
  });

  it('skips an unchanged progress line until the 30 s heartbeat', () => {
    const err = sink();
    const clock = fakeClock();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts({ now: clock.now }));
    r.event(plan);
    r.event({ type: 'batch-start', batchId: 'b1', mode: 'sync', files: 650, bytes: 45_600_000 });
    clock.advance(5_000);
    expect(r.tick()).toBe(true);
    clock.advance(5_000);
    expect(r.tick()).toBe(false);
    clock.advance(25_000);
    expect(r.tick()).toBe(true);
  });

  it('no progress lines before the plan, for dry runs, with --no-progress, or after finish', () => {
    const clock = fakeClock();
    const r1 = new PlainRenderer({ stdout: sink(), stderr: sink() }, opts({ now: clock.now }));
    clock.advance(10_000);
    expect(r1.tick()).toBe(false);
    const r2 = new PlainRenderer({ stdout: sink(), stderr: sink() }, opts({ now: clock.now, progress: false }));
    r2.event(plan);
    clock.advance(10_000);
    expect(r2.tick()).toBe(false);
    const r3 = new PlainRenderer({ stdout: sink(), stderr: sink() }, opts({ now: clock.now }));
    r3.event({ ...plan, dryRun: true } as BatchupEvent);
    clock.advance(10_000);
    expect(r3.tick()).toBe(false);
    const r4 = new PlainRenderer({ stdout: sink(), stderr: sink() }, opts({ now: clock.now }));
    r4.event(plan);
    r4.finish(summary());
    clock.advance(10_000);
    expect(r4.tick()).toBe(false);
  });

  const outcomes: BatchupEvent[] = [
    { type: 'reject', rejection: { source: '/in/bad.pdf.jpg', rule: 'disguised', message: 'bad.pdf.jpg: content is PDF, not JPEG (disguised)' } },
    { type: 'result', entry: { source: '/in/bad.pdf.jpg', status: 'rejected', provider: 'bach', error: 'dup' } },
    { type: 'retry', batchId: 'b1', attempt: 1, delayMs: 1500, error: 'HTTP 503', code: 'HTTP_RETRYABLE' },
    { type: 'result', entry: { source: '/in/a.jpg', status: 'uploaded', provider: 'bach', url: 'https://cdn/a.jpg' } },
    { type: 'result', entry: { source: '/in/b.jpg', status: 'failed', provider: 'bach', error: 'b.jpg: server said no', code: 'REMOTE' } },
  ];

  it('default: one line per rejection/failure, no successes, then the summary', () => {
    const err = sink();
    const out = sink();
    const r = new PlainRenderer({ stdout: out, stderr: err }, opts());
    for (const e of outcomes) r.event(e);
    r.finish(summary());
    expect(err.lines()).toEqual([
      'rejected /in/bad.pdf.jpg: content is PDF, not JPEG (disguised)',
      'failed /in/b.jpg: server said no (REMOTE)',
      formatSummary(summary()),
    ]);
    expect(out.text()).toBe('');
  });

  it('--verbose adds retries and successes', () => {
    const err = sink();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts({ verbose: true }));
    for (const e of outcomes) r.event(e);
    expect(err.lines()).toContain('retry batch b1 attempt 1 in 1.5 s: HTTP 503 (HTTP_RETRYABLE)');
    expect(err.lines()).toContain('uploaded /in/a.jpg -> https://cdn/a.jpg');
  });

  it('--quiet keeps errors and the summary only', () => {
    const err = sink();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts({ quiet: true, progress: false }));
    r.info('sandbox started');
    r.event(plan);
    for (const e of outcomes) r.event(e);
    r.finish(summary());
    expect(err.lines()).toHaveLength(3);
    expect(err.text()).not.toContain('sandbox started');
  });

  it('dry run prints the plan with reasons', () => {
    const err = sink();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts());
    r.event({ type: 'plan', provider: 'bach', dryRun: true, batches: [batch('b1', 2, 2000)] });
    expect(err.lines()).toEqual(['plan: 1 batch (sync 1), 2 files, 2.0 kB, provider bach (dry run)', '  batch b1: sync, 2 files, 2.0 kB — few files']);
  });

  it('a dry run of hundreds of batches lists ten and sums up the rest; --verbose lists them all', () => {
    const batches = Array.from({ length: 334 }, (_, i) => batch(`b${i}`, i === 333 ? 100 : 300, 2_800_000));
    const brief = sink();
    new PlainRenderer({ stdout: sink(), stderr: brief }, opts()).event({ type: 'plan', provider: 'bach', dryRun: true, batches });
    expect(brief.lines()).toHaveLength(12);
    expect(brief.lines()[10]).toBe('  batch b9: sync, 300 files, 2.8 MB — few files');
    expect(brief.lines()[11]).toBe('  … 324 more batches, 97000 files, 907.2 MB (--verbose lists every batch)');
    const full = sink();
    new PlainRenderer({ stdout: sink(), stderr: full }, opts({ verbose: true })).event({ type: 'plan', provider: 'bach', dryRun: true, batches });
    expect(full.lines()).toHaveLength(335);
    expect(full.text()).not.toContain('more batches');
  });
  it('redacts secrets in every line', () => {
    addSecret('plain-renderer-secret-xyz');
    const err = sink();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts());
    r.event({ type: 'batch-failed', batchId: 'b1', error: 'token plain-renderer-secret-xyz refused', code: 'AUTH' });
    expect(err.text()).toContain('token *** refused');
    expect(err.text()).not.toContain('plain-renderer-secret-xyz');
  });
});

describe('JsonRenderer (NDJSON)', () => {
  it('one JSON object per event on stdout, field names as core emits them, nothing else', () => {
    const out = sink();
    const err = sink();
    const r = new JsonRenderer({ stdout: out, stderr: err }, opts());
    const events: BatchupEvent[] = [
      { type: 'scan', candidates: 2 },
      { type: 'plan', provider: 'bach', dryRun: false, batches: [batch('b1', 1, 10)] },
      { type: 'file-progress', batchId: 'b1', source: '/a "quoted"\nname.jpg', sent: 5, total: 10 },
      { type: 'summary', summary: summary() },
    ];
    for (const e of events) r.event(e);
    r.info('human note');
    r.finish(summary());
    const lines = out.text().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(events.length);
    expect(lines.map((l) => JSON.parse(l))).toEqual(events);
    expect(err.text()).toBe('');
  });

  it('an error adds an error event on stdout and a human line on stderr', () => {
    const out = sink();
    const err = sink();
    const r = new JsonRenderer({ stdout: out, stderr: err }, opts());
    r.error({ code: 'AUTH', message: 'token refused' }, 5);
    expect(JSON.parse(out.text())).toEqual({ type: 'error', code: 'AUTH', message: 'token refused', exitCode: 5 });
    expect(err.text()).toBe('error: token refused\n');
  });

  it('lines go out together once the event loop turns (or at 64 KiB), in order, and before an error or the end', async () => {
    const writes: string[] = [];
    const out = { write: (s: string) => writes.push(s) };
    const r = new JsonRenderer({ stdout: out, stderr: sink() }, opts());
    for (let i = 0; i < 3; i++) r.event({ type: 'scan', candidates: i });
    expect(writes).toEqual([]);
    await new Promise((res) => setImmediate(res));
    expect(writes).toEqual([[0, 1, 2].map((i) => `{"type":"scan","candidates":${i}}\n`).join('')]);
    const source = 'x'.repeat(1000);
    for (let i = 0; i < 100; i++) r.event({ type: 'skip', source, reason: 'unchanged' });
    expect(writes.length).toBe(2);
    r.event({ type: 'scan', candidates: 9 });
    r.error({ code: 'AUTH', message: 'no' }, 5);
    r.event({ type: 'scan', candidates: 10 });
    r.finish(summary());
    const lines = writes
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['scan', 'scan', 'scan', ...Array(100).fill('skip'), 'scan', 'error', 'scan']);
  });

  it('redacts secrets, and the line stays valid JSON', () => {
    addSecret('json-secret-"with-quote"');
    const out = sink();
    const r = new JsonRenderer({ stdout: out, stderr: sink() }, opts());
    r.event({ type: 'batch-failed', batchId: 'b', error: 'bad json-secret-"with-quote"', code: 'AUTH' });
    r.close();
    expect(out.text()).not.toContain('json-secret');
    expect(JSON.parse(out.text())).toMatchObject({ error: 'bad ***' });
  });
});

describe('TtyRenderer', () => {
  it('the overall line, file lines while uploading, batch lines while the server processes; nothing left behind before the summary', async () => {
    const { TtyRenderer } = await import('../../src/cli/render/tty.js');
    const chunks: string[] = [];
    const push = (s: string) => (chunks.push(s), true);
    const err = {
      write: push,
      isTTY: true,
      columns: 100,
      on() {},
      once() {},
      off() {},
      removeListener() {},
      cursorTo: () => push('\u001b[1G'),
      clearLine: () => push('\u001b[2K'),
      moveCursor: () => true,
    };
    // The bars redraw on their own timers: fake timers make every frame happen, however busy the
    // machine is.
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    // CI jobs set CI; a terminal is still a terminal there.
    vi.stubEnv('CI', 'true');
    onTestFinished(() => void vi.unstubAllEnvs());
    const sleep = (ms: number) => vi.advanceTimersByTime(ms);
    const r = new TtyRenderer({ stdout: sink(), stderr: err }, opts({ timer: true }));
    r.event({ type: 'reject', rejection: { source: '/x/bad.jpg', rule: 'corrupt', message: 'bad.jpg: corrupt' } });
    r.event({ type: 'plan', provider: 'bach', dryRun: false, batches: [batch('b1', 2, 2000)] });
    r.event({ type: 'batch-start', batchId: 'b1', mode: 'sync', files: 2, bytes: 2000 });
    for (let i = 0; i <= 4; i++) {
      r.event({ type: 'file-progress', batchId: 'b1', source: '/x/a.jpg', sent: i * 250, total: 1000 });
      sleep(40);
    }
    r.event({ type: 'result', entry: { source: '/x/b.jpg', status: 'failed', provider: 'bach', error: 'b.jpg: nope', code: 'REMOTE' } });
    r.event({ type: 'batch-submitted', batchId: 'b1', mode: 'sync', attempt: 1 });
    r.event({ type: 'poll', batchId: 'b1', status: 'processing', processed: 1, total: 2 });
    sleep(120);
    r.event({ type: 'batch-done', batchId: 'b1', uploaded: 1, failed: 1 });
    r.finish(summary({ uploaded: 1, failed: 1, rejected: 1 }));
    const out = chunks.join('');
    expect(out).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \d\/3 files · \d+ B\/2\.0 kB/);
    expect(out).toContain('a.jpg');
    expect(out).toContain('batch b1 1/2 processed processing');
    expect(out).toMatch(/1\/2 processed · 1 batch in flight/);
    expect(out).toContain('rejected /x/bad.jpg: corrupt\n');
    expect(out).toContain('failed /x/b.jpg: nope (REMOTE)\n');
    // The cursor is shown again and the summary is the last thing written, on its own line.
    expect(out.lastIndexOf('\u001b[?25h')).toBeGreaterThan(out.lastIndexOf('\u001b[?25l'));
    // (broken to the terminal's width, less the last column)
    expect(out.endsWith(`${wrapLine(formatSummary(summary({ uploaded: 1, failed: 1, rejected: 1 })), 99).join('\n')}\n`)).toBe(true);
  });
});

describe('rejections and failures always reach stderr', () => {
  it('also in --json mode (stdout stays pure NDJSON)', () => {
    const out = sink();
    const err = sink();
    const r = new JsonRenderer({ stdout: out, stderr: err }, opts({ quiet: true }));
    r.event({ type: 'reject', rejection: { source: '/a.svg', rule: 'unsafe-svg', message: 'a.svg: has a script (unsafe-svg)' } });
    r.event({ type: 'result', entry: { source: '/b.jpg', status: 'failed', provider: 'bach', error: 'b.jpg: 500', code: 'HTTP' } });
    expect(err.text()).toBe('rejected /a.svg: has a script (unsafe-svg)\nfailed /b.jpg: 500 (HTTP)\n');
    r.close();
    expect(
      out
        .text()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toEqual(['reject', 'result']);
  });
});

describe('failure lines', () => {
  it('do not repeat a source the message already starts with; interrupted files only with --verbose', () => {
    const err = sink();
    const r = new PlainRenderer({ stdout: sink(), stderr: err }, opts());
    r.event({ type: 'result', entry: { source: '/in/a.jpg', status: 'failed', provider: 'bach', error: '/in/a.jpg: HTTP 400 bad name', code: 'HTTP' } });
    r.event({ type: 'result', entry: { source: '/in/b.jpg', status: 'failed', provider: 'bach', error: '/in/b.jpg: interrupted', code: 'INTERRUPTED' } });
    expect(err.lines()).toEqual(['failed /in/a.jpg: HTTP 400 bad name (HTTP)']);
    const verr = sink();
    const v = new PlainRenderer({ stdout: sink(), stderr: verr }, opts({ verbose: true }));
    v.event({ type: 'result', entry: { source: '/in/b.jpg', status: 'failed', provider: 'bach', error: '/in/b.jpg: interrupted', code: 'INTERRUPTED' } });
    expect(verr.lines()).toEqual(['failed /in/b.jpg: interrupted (INTERRUPTED)']);
  });
});
