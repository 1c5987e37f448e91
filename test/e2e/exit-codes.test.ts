/**
 * The exit code of every situation the README's table names, from the built CLI, asserted as the
 * documented numbers (not through the code's own constants, so a drift from the README fails).
 * And what an interrupted run says: the summary's bytes and the manifest's entries are what
 * really happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BIN, ROOT, cleanEnv, cli, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { makePng } from '../../src/devtools/generate.js';
import { writeMp4 } from '../../src/devtools/video.js';

const TOKEN = 'tok-exit-codes-55a1';
let dir: string;
let sb: ServeHandle;
const env = (extra: Record<string, string> = {}) => cleanEnv({ BATCHUP_TOKEN: TOKEN, ...extra });

beforeAll(async () => {
  dir = await tempDir('batchup-exit-');
  await mkdir(join(dir, 'good'));
  await mkdir(join(dir, 'bad'));
  for (let i = 0; i < 4; i++) await writeFile(join(dir, 'good', `g${i}.png`), makePng(900 + i));
  await writeFile(join(dir, 'bad', 'not-an-image.png'), 'plain text, not a PNG\n');
  await writeFile(join(dir, 'bad', 'empty.png'), '');
  sb = await serve(['--token', TOKEN, '--process-ms', '1']);
});
afterAll(async () => {
  await sb?.stop();
});

const upload = (args: string[], e = env()) => cli(['upload', ...args, '--manifest', join(dir, `m-${Math.random().toString(36).slice(2)}.json`)], { env: e });

describe('exit codes (README table)', () => {
  it('0: every input uploaded', async () => {
    expect((await upload([join(dir, 'good'), '--endpoint', sb.bach])).exitCode).toBe(0);
  });

  it('2: a usage error, before anything is read or sent', async () => {
    const r = await upload([join(dir, 'good'), '--provider', 'aihub', '--endpoint', `${sb.url}/api`]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('aihub needs --batch-name');
  });

  it('3: partial — some uploaded, some rejected', async () => {
    const r = await upload([join(dir, 'good'), join(dir, 'bad'), '--endpoint', sb.bach]);
    expect(r.exitCode).toBe(3);
  });

  it('4: nothing uploaded — every input rejected', async () => {
    const r = await upload([join(dir, 'bad'), '--endpoint', sb.bach]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/rejected .*empty\.png: file is empty \(empty-file\)/);
    expect(r.stderr).not.toMatch(/empty\.png: empty\.png/); // the file is named once
  });

  it('5: the API refuses the credentials', async () => {
    const r = await upload([join(dir, 'good'), '--endpoint', sb.bach], cleanEnv({ BATCHUP_TOKEN: 'a-wrong-token' }));
    expect(r.exitCode).toBe(5);
  });

  it('6: the API cannot be reached — said once, naming the endpoint, not once per file', async () => {
    const r = await upload([join(dir, 'good'), '--endpoint', 'http://127.0.0.1:9/api/vdr', '--max-retries', '1']);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toContain('error: cannot reach the API at http://127.0.0.1:9/api/vdr: connection refused (ECONNREFUSED)');
    expect(r.stderr).not.toMatch(/^failed /m);
  });

  it('6: a wrong API path (404 before anything succeeded)', async () => {
    const r = await upload([join(dir, 'good'), '--endpoint', `${sb.url}/api/nope`]);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toContain(`the API at ${sb.url}/api/nope does not know this path (HTTP 404)`);
  });

  it('6: the API host name cannot be resolved (in a network namespace of its own: no query leaves the machine)', async () => {
    const script = `ip link set lo up; node ${BIN} upload ${dir}/good --endpoint http://batchup-test.invalid/api/vdr --allow-insecure-http --max-retries 0 --manifest ${dir}/dns.json`;
    const r = await execa('unshare', ['-n', 'bash', '-c', script], { env: env(), extendEnv: false, cwd: ROOT, reject: false });
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stderr).toMatch(
      /cannot reach the API at http:\/\/batchup-test\.invalid\/api\/vdr: host batchup-test\.invalid (not found|cannot be resolved now) \((ENOTFOUND|EAI_AGAIN)\)/,
    );
  });

  it('a reader that goes away after one line (`| head -1`) ends nothing: the run finishes, the manifest is written, no stack trace', async () => {
    const manifest = join(dir, 'm-head.json');
    const r = await execa('bash', ['-c', `node "${BIN}" upload "${join(dir, 'good')}" --endpoint ${sb.bach} --json --manifest "${manifest}" | head -1`], {
      env: env(),
      extendEnv: false,
      reject: false,
    });
    expect(r.stdout.split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\(node:/);
    const m = await readJson<{ entries: { status: string }[] }>(manifest);
    expect(m.entries.map((e) => e.status)).toEqual(['uploaded', 'uploaded', 'uploaded', 'uploaded']);
    const help = await execa('bash', ['-c', `set -o pipefail; node "${BIN}" upload --help | head -1`], { env: env(), extendEnv: false, reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stderr).toBe('');
  });

  it('--json: a usage error is one error event on stdout', async () => {
    const r = await cli(['upload', 'x', '--frob', '--json'], { env: env() });
    expect(r.exitCode).toBe(2);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ type: 'error', code: 'USAGE', message: "unknown option '--frob'", exitCode: 2 }]);
  });
});

describe('130: interrupted — the summary and the manifest say what really happened', () => {
  it('Ctrl-C while the server processes: the bytes were all sent; entries say so', async () => {
    const slow = await serve(['--token', TOKEN, '--process-ms', '300']);
    try {
      const manifest = join(dir, 'int-processing.json');
      const run = execa('node', [BIN, 'upload', join(dir, 'good'), '--endpoint', slow.bach, '--manifest', manifest, '--mode', 'async'], {
        env: env(),
        extendEnv: false,
        reject: false,
      });
      await waitFor(async () => ((await slow.stats()).requests['bach.status'] ?? 0) >= 1, 'the upload to be done and polling to start');
      run.kill('SIGINT');
      const r = await run;
      expect(r.exitCode).toBe(130);
      const m = await readJson(manifest);
      const total = m.entries.reduce((n: number, e: any) => n + e.size, 0);
      expect(m.summary.interrupted).toBe(true);
      // Base64 bodies stream every byte of each file: all of them were sent, and said so.
      expect(m.summary.bytes).toBe(total);
      for (const e of m.entries) {
        expect(e.code).toBe('INTERRUPTED');
        expect(e.error).toContain('interrupted while the server was processing it (it was sent whole');
        expect(e.bytesSent).toBe(e.size);
      }
      expect(r.stderr).not.toContain('interrupted before the upload finished');
    } finally {
      await slow.stop();
    }
  });

  it('Ctrl-C a quarter into a large hybrid upload: the bytes sent are those the server received, not the file', async () => {
    const video = join(dir, 'big.mp4');
    const size = 160 * 1024 * 1024 + 5; // chunked (over 150 MiB): bytes count once the server acknowledged them
    await writeMp4(video, size, { sparse: true });
    const manifest = join(dir, 'int-hybrid.json');
    const run = execa('node', [BIN, 'upload', video, '--provider', 'hybrid', '--endpoint', sb.url, '--manifest', manifest, '--max-memory', '10MiB'], {
      env: env(),
      extendEnv: false,
      reject: false,
    });
    await waitFor(async () => ((await sb.stats()) as any).hybrid.partBytesReceived >= size * 0.25, 'a quarter of the file to arrive');
    run.kill('SIGINT');
    const r = await run;
    expect(r.exitCode).toBe(130);
    const m = await readJson(manifest);
    const e = m.entries[0];
    expect(e.status).toBe('failed');
    expect(e.code).toBe('INTERRUPTED');
    expect(m.summary.bytes).toBeLessThan(size);
    expect(m.summary.bytes).toBeGreaterThan(0);
    expect(e.bytesSent).toBe(m.summary.bytes);
    expect(e.error).toMatch(/interrupted after [\d.]+ [kMG]?B of [\d.]+ MB of it was sent/);
    const received = ((await sb.stats()) as any).hybrid.partBytesReceived;
    // Counted when acknowledged: never more than the server received.
    expect(m.summary.bytes).toBeLessThanOrEqual(received);
  });
});
