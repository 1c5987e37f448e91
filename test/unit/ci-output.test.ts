/** GitHub workflow commands and the step summary, and the rotating log, as pure pieces. */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GithubOutput, SUMMARY_ROWS, escapeData, escapeProperty, workflowCommand } from '../../src/cli/ci.js';
import { RotatingLog } from '../../src/cli/log-file.js';

describe('workflow commands', () => {
  it('escape messages (%, CR, LF) and properties (also : and ,) as GitHub requires', () => {
    expect(escapeData('50% done\r\nnext')).toBe('50%25 done%0D%0Anext');
    expect(escapeProperty('a,b:c%d\n')).toBe('a%2Cb%3Ac%25d%0A');
    expect(workflowCommand('error', 'bad\nthing', { file: 'x,y.png', title: 'batchup: rejected', line: undefined })).toBe(
      '::error file=x%2Cy.png,title=batchup%3A rejected::bad%0Athing',
    );
    expect(workflowCommand('warning', 'w')).toBe('::warning::w');
  });

  it('a summary lists at most SUMMARY_ROWS failures, with table cells kept on one line and pipes escaped', () => {
    const lines: string[] = [];
    const out = new GithubOutput({ env: { GITHUB_WORKSPACE: '/ws' }, cwd: '/ws', stderr: { write: (s: string) => lines.push(s) } });
    for (let i = 0; i < SUMMARY_ROWS + 5; i++) {
      out.event({ type: 'reject', rejection: { source: `/ws/m/${i}|x.png`, rule: 'corrupt', message: `${i}|x.png: broken\nchunk (corrupt)` } });
    }
    out.event({
      type: 'summary',
      summary: { uploaded: 2, skipped: 0, rejected: SUMMARY_ROWS + 5, failed: 0, bytes: 10, durationMs: 5, interrupted: false, dryRun: false },
    });
    expect(lines).toHaveLength(SUMMARY_ROWS + 5);
    expect(lines[0]).toBe('::error file=m/0|x.png,title=batchup%3A rejected (corrupt)::0|x.png: broken%0Achunk (corrupt)\n');
    const md = out.markdown(3);
    expect(md).toContain(`#### Rejected or failed (${SUMMARY_ROWS + 5})`);
    expect(md).toContain('| m/0\\|x.png | rejected (corrupt) | 0\\|x.png: broken chunk (corrupt) |');
    expect(md).toContain('… and 5 more: the manifest lists every one.');
    expect(md.split('\n').filter((l) => l.startsWith('| m/'))).toHaveLength(SUMMARY_ROWS);
  });
});

describe('RotatingLog', () => {
  it('stamps every complete line, rotates past maxBytes and keeps `keep` old files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'batchup-log-unit-'));
    const path = join(dir, 'x.log');
    let now = Date.parse('2026-12-06T10:00:00Z');
    const log = new RotatingLog({ path, maxBytes: 200, keep: 2 }, () => now);
    log.write('first ');
    log.write('line\nsecond line\n');
    for (let i = 0; i < 20; i++) {
      now += 1000;
      log.write(`line ${i} ${'.'.repeat(40)}\n`);
    }
    log.write('unfinished');
    log.close();
    expect((await readdir(dir)).sort()).toEqual(['x.log', 'x.log.1', 'x.log.2']);
    const last = await readFile(path, 'utf8');
    expect(last).toMatch(/^2026-12-06T10:00:20\.000Z \[\d+\] line 19 \.+\n/m);
    expect(last.endsWith('] unfinished\n')).toBe(true);
    for (const f of ['x.log', 'x.log.1', 'x.log.2']) expect((await readFile(join(dir, f), 'utf8')).length).toBeLessThanOrEqual(200);
    expect(log.write('after close\n')).toBe(false);
  });
});
