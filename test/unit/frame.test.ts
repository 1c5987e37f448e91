/** The live block's lines: every one fits the terminal, the overall numbers are always there. */
import { describe, expect, it } from 'vitest';
import { Rates, fitParts, frameLines, packParts, wrapLine } from '../../src/cli/render/frame.js';
import { Stats } from '../../src/cli/render/stats.js';

/** `batches` in flight: the first `uploading` of them still sending two files each, the others being processed. */
function stats(batches: number, uploading: number): Stats {
  const s = new Stats();
  const ids = Array.from({ length: batches }, (_, i) => `bu-${String(i).padStart(4, '0')}5a89117f1840d155`);
  s.update({ type: 'scan', candidates: batches * 250 });
  s.update({
    type: 'plan',
    provider: 'bach',
    dryRun: false,
    batches: ids.map((batchId) => ({ batchId, mode: 'async', reason: 'r', files: 250, images: 250, bytes: 250 * 9000, sources: [] })),
  });
  ids.forEach((batchId, i) => {
    s.update({ type: 'batch-start', batchId, mode: 'async', files: 250, bytes: 250 * 9000 });
    if (i < uploading) {
      s.update({ type: 'file-progress', batchId, source: `/photos/a-very-long-folder-name/with-a-long-file-name-${i}.png`, sent: 4000, total: 9000 });
      s.update({ type: 'file-progress', batchId, source: `/photos/b-${i}.png`, sent: 100, total: 9000 });
    } else {
      s.update({ type: 'batch-submitted', batchId, mode: 'async', attempt: 0 });
      s.update({ type: 'poll', batchId, status: 'TASK_PROCESSING', processed: 100 + i, total: 250 });
    }
  });
  return s;
}

describe('frameLines', () => {
  for (const width of [60, 120, 200]) {
    for (const [batches, uploading] of [
      [1, 1],
      [1, 0],
      [3, 1],
      [12, 4],
      [50, 10],
    ] as const) {
      it(`${width} columns, ${batches} batch(es) in flight (${uploading} uploading): every line fits, the overall numbers first`, () => {
        const rates = new Rates();
        const s = stats(batches, uploading);
        frameLines(s, { width, rows: 30 }, 0, rates);
        const lines = frameLines(s, { width, rows: 30 }, 2000, rates, 1);
        for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(width);
        expect(lines[0]).toMatch(/^\S \d+\/\d+ files · [\d.]+ k?B\/[\d.]+ [kM]B/);
        if (batches > uploading) expect(lines[0]).toMatch(/\d+\/\d+ processed/);
        // However narrow, the count of batches in flight is there: on the overall line or the one under it.
        expect(lines.slice(0, 2).join('\n')).toMatch(new RegExp(`\\b${batches} batch(es)? in flight`));
        expect(lines.length).toBeLessThanOrEqual(30 - 2);
        const items = uploading * 2 + (batches - uploading);
        if (items > 26) expect(lines.at(-1)).toMatch(/… \d+ more/);
        // Batch ids are never cut in the middle.
        for (const l of lines.filter((x) => x.includes('batch bu-'))) expect(l).toMatch(/batch bu-\d{4}5a89117f1840d155( |$)/);
      });
    }
  }

  it('labels its ETAs: upload and server are different clocks', () => {
    const rates = new Rates();
    const s = stats(3, 1);
    frameLines(s, { width: 200, rows: 30 }, 0, rates);
    s.update({ type: 'file-progress', batchId: 'bu-00005a89117f1840d155', source: '/photos/b-0.png', sent: 9000, total: 9000 });
    s.update({ type: 'poll', batchId: 'bu-00015a89117f1840d155', status: 'TASK_PROCESSING', processed: 200, total: 250 });
    const [first] = frameLines(s, { width: 200, rows: 30 }, 2000, rates);
    expect(first).toMatch(/upload [\d.]+ [kM]?B\/s ETA /);
    expect(first).toMatch(/server ETA /);
  });

  it('fitParts keeps the first part whole when it fits, drops the rest in order, cuts only the first', () => {
    expect(fitParts(['abc', 'def', 'ghi'], 9, ' ')).toBe('abc def');
    expect(fitParts(['abc', 'a-very-long-part', 'x'], 18, ' ')).toBe('abc');
    expect(fitParts(['abcdefghij'], 5, ' ')).toBe('abcd…');
  });

  it('packParts carries what does not fit to an indented next line, up to its line limit', () => {
    expect(packParts(['abc', 'def', 'ghi', 'jkl'], 9, 2, ' ')).toEqual(['abc def', '  ghi jkl']);
    expect(packParts(['abc', 'def', 'ghi', 'jkl', 'mno'], 7, 2, ' ')).toEqual(['abc def', '  ghi']);
    expect(packParts(['abc', 'a-very-long-part'], 9, 2, ' ')).toEqual(['abc']);
  });
});

describe('wrapLine', () => {
  it('breaks at spaces to the width, cutting only words longer than it', () => {
    expect(wrapLine('uploaded 40, skipped 0 — 16.7 kB in 719 ms — manifest: /tmp/x.json', 24)).toEqual([
      'uploaded 40, skipped 0 —',
      '16.7 kB in 719 ms —',
      'manifest: /tmp/x.json',
    ]);
    expect(wrapLine('a /very/long/path/that/does/not/fit', 10)).toEqual(['a', '/very/long', '/path/that', '/does/not/', 'fit']);
    for (const l of wrapLine('x '.repeat(100), 7)) expect(l.length).toBeLessThanOrEqual(7);
  });
});
