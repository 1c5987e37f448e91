/**
 * Under GitHub Actions (GITHUB_ACTIONS=true) the built CLI annotates each rejected or failed
 * input as GitHub reads it (`::error file=…::` on the step's output, escaped per GitHub's rules,
 * the file relative to the workspace) and appends a Markdown summary to $GITHUB_STEP_SUMMARY.
 * The token never appears in either, even in a file name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, cli, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-gha-7c2d9e';
let sandbox: ServeHandle;
let broken: ServeHandle;
let dir: string;

beforeAll(async () => {
  [sandbox, broken] = await Promise.all([serve(['--token', TOKEN]), serve(['--token', TOKEN, '--fault-rate', '1', '--faults', '500', '--seed', '1'])]);
  dir = await tempDir('batchup-gha-');
  await writePngs(join(dir, 'media'), 3, { seedBase: 70_000 });
  await writeFile(join(dir, 'media', 'bad,name:%.png'), 'not a png at all');
  await writeFile(join(dir, 'media', `${TOKEN}.png`), 'not a png either');
});
afterAll(async () => {
  await Promise.all([sandbox?.stop(), broken?.stop()]);
});

const annotations = (text: string) => text.split('\n').filter((l) => l.startsWith('::'));

describe('GitHub Actions output', () => {
  it('annotates rejections (escaped, workspace-relative) and appends a step summary; plain lines stay', async () => {
    const summary = join(dir, 'summary.md');
    const env = cleanEnv({
      BATCHUP_TOKEN: TOKEN,
      BATCHUP_ENDPOINT: sandbox.bach,
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: dir,
      GITHUB_STEP_SUMMARY: summary,
    });
    const r = await cli(['upload', 'media', 'missing.png', '--manifest', 'out/m.json'], { cwd: dir, env });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    const lines = annotations(r.stderr);
    expect(lines).toHaveLength(3);
    expect(lines).toContain(
      '::error file=media/bad%2Cname%3A%25.png,title=batchup%3A rejected (disguised)::bad,name:%25.png: content is text, not PNG (disguised)',
    );
    expect(lines).toContain(`::error file=missing.png,title=batchup%3A rejected (unreadable)::${dir}/missing.png: no such file or folder (unreadable)`);
    expect(lines).toContain('::error file=media/***.png,title=batchup%3A rejected (disguised)::***.png: content is text, not PNG (disguised)');
    // The plain lines a log reader (and GitLab) sees are still there.
    expect(r.stderr).toMatch(/^rejected .*bad,name:%\.png: content is text, not PNG \(disguised\)$/m);
    expect(r.stderr).toMatch(/uploaded 3, skipped 0, rejected 3, failed 0/);

    const md = await readFile(summary, 'utf8');
    expect(md).toContain('### batchup (bach): 3 of 6 not done');
    expect(md).toContain('| uploaded | skipped | rejected | failed | bytes sent | duration |');
    expect(md).toMatch(/\| 3 \| 0 \| 3 \| 0 \| [\d.]+ (B|kB) \| [\d.]+ m?s \|/);
    expect(md).toContain('exit code 3 · manifest `out/m.json`');
    expect(md).toContain('#### Rejected or failed (3)');
    expect(md).toContain('| media/bad,name:%.png | rejected (disguised) | bad,name:%.png: content is text, not PNG (disguised) |');
    expect(md).toContain('| missing.png | rejected (unreadable) |');
    for (const text of [r.stdout, r.stderr, md]) expect(text).not.toContain(TOKEN);
  });

  it('annotates each failed file with the server error, and appends a second summary to the same file', async () => {
    const summary = join(dir, 'summary-2.md');
    await writeFile(summary, '## earlier step\n');
    const env = cleanEnv({
      BATCHUP_TOKEN: TOKEN,
      BATCHUP_ENDPOINT: broken.bach,
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: dir,
      GITHUB_STEP_SUMMARY: summary,
    });
    const r = await cli(['upload', 'media', '--exclude', '*,*', '--exclude', 'tok-*', '--manifest', 'out/f.json', '--max-retries', '0', '--json'], {
      cwd: dir,
      env,
    });
    expect(r.exitCode).toBe(4);
    // --json: stdout is NDJSON only; the workflow commands are on stderr, which the runner reads too.
    for (const line of r.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const lines = annotations(r.stderr);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^::error file=media\/img-0000\d\.png,title=batchup%3A failed \(HTTP_RETRYABLE\)::.*500/);
    const md = await readFile(summary, 'utf8');
    expect(md.startsWith('## earlier step\n')).toBe(true);
    expect(md).toContain('### batchup (bach): 3 of 3 not done');
    expect(md).toContain('| 0 | 0 | 0 | 3 |');
    expect(md).toContain('exit code 4');
    expect(md).toMatch(/\| media\/img-00000\.png \| failed \(HTTP_RETRYABLE\) \| .*500/);
  });

  it('a whole-run failure is one annotation, not one per file, and the summary names it', async () => {
    const summary = join(dir, 'summary-3.md');
    const env = cleanEnv({ BATCHUP_TOKEN: 'not-the-token', BATCHUP_ENDPOINT: sandbox.bach, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
    const r = await cli(['upload', 'media', '--exclude', '*,*', '--exclude', 'tok-*', '--manifest', 'out/a.json'], { cwd: dir, env });
    expect(r.exitCode).toBe(5);
    const lines = annotations(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^::error title=batchup::/);
    const md = await readFile(summary, 'utf8');
    expect(md).toContain('exit code 5');
    expect(md).toContain('**Error:**');
    expect(md).not.toContain('not-the-token');
  });

  it('outside GitHub Actions (GitLab, cron): the plain lines only, no workflow commands', async () => {
    const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach, GITLAB_CI: 'true', CI: 'true' });
    const r = await cli(['upload', 'media', '--manifest', 'out/g.json'], { cwd: dir, env });
    expect(r.exitCode).toBe(3);
    expect(annotations(r.stderr)).toEqual([]);
    expect(r.stderr).toMatch(/^rejected .*\(disguised\)$/m);
  });
});
