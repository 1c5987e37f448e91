/**
 * The README's cron and systemd recipes, run as written: the crontab line through `sh` in cron's
 * bare environment, the service's ExecStart in its WorkingDirectory with its EnvironmentFile and
 * `%h` — with `batchup` on PATH being the built CLI and the endpoint and token of a local sandbox.
 * Plus what they lean on: --exit-nothing, --log-file (appended, rotated, redacted).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmod, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BIN, ROOT, cleanEnv, cli, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-cron-3b8e61';
let sandbox: ServeHandle;
let readme: string;

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '1']);
  readme = await readFile(join(ROOT, 'README.md'), 'utf8');
});
afterAll(async () => {
  await sandbox?.stop();
});

/** The README's fenced block of this language whose first line is `first` (or any, without). */
function block(lang: string, first?: string): string {
  const re = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g');
  for (const m of readme.matchAll(re)) if (!first || m[1]!.startsWith(first)) return m[1]!;
  throw new Error(`no \`\`\`${lang} block${first ? ` starting with ${first}` : ''} in the README`);
}

/** A HOME with the recipe's folders and media, and a bin folder where `batchup` is the built CLI. */
async function machine() {
  const home = await tempDir('batchup-home-');
  await writePngs(join(home, 'media', 'incoming'), 12, { seedBase: 60_000 });
  const bin = join(home, 'bin');
  await mkdir(bin);
  await symlink(BIN, join(bin, 'batchup'));
  return { home, bin, path: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` };
}

/** ini sections → key → values (a key may repeat). */
function ini(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) out[(section = s[1]!)] ??= {};
    else {
      const [k, ...v] = line.split('=');
      (out[section]![k!.trim()] ??= []).push(v.join('=').trim());
    }
  }
  return out;
}

describe('cron and systemd recipes (README), run as written', () => {
  it('crontab: uploads silently, then has nothing to do (silent), then speaks once on a rejected file', async () => {
    const m = await machine();
    const text = block('crontab');
    const envLines = text.split('\n').filter((l) => /^[A-Z_]+=/.test(l));
    const job = text.split('\n').find((l) => /^[\d*]/.test(l))!;
    const fields = job.split(/\s+/);
    expect(fields.slice(0, 5)).toEqual(['30', '2', '*', '*', '*']);
    const command = fields.slice(5).join(' ');
    expect(command).not.toContain('%'); // cron would turn it into a newline
    // cron's environment: HOME, LOGNAME, SHELL and the crontab's own lines (PATH: ours first).
    const env: Record<string, string> = { HOME: m.home, LOGNAME: 'batchup', SHELL: '/bin/sh' };
    for (const l of envLines) env[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
    env.PATH = `${m.path}:${env.PATH}`;
    // The one-time setup the README names: endpoint and token in the config file.
    const setup = (args: string[], input?: string) => execa('batchup', ['config', 'set', ...args], { env, extendEnv: false, input });
    await setup(['endpoint', sandbox.bach]);
    await setup(['token', '-'], TOKEN);

    const run = () => execa('sh', ['-c', command], { env, extendEnv: false, cwd: '/', reject: false });
    const first = await run();
    expect(first.exitCode).toBe(0);
    expect(first.stdout + first.stderr).toBe('');
    const manifest = JSON.parse(await readFile(join(m.home, 'batchup', 'nightly.json'), 'utf8'));
    expect(manifest.summary).toMatchObject({ uploaded: 12, rejected: 0, failed: 0 });

    const second = await run();
    expect(second.stdout + second.stderr).toBe('');
    const log = await readFile(join(m.home, 'batchup', 'nightly.log'), 'utf8');
    expect(log).toMatch(/^\S+Z \[\d+\] batchup upload incoming .*--exit-nothing 10/m);
    expect(log).toMatch(/uploaded 12, skipped 0, rejected 0, failed 0/);
    expect(log).toMatch(/uploaded 0, skipped 12, rejected 0, failed 0/);
    expect(log).toMatch(/\] exit 0\n[\s\S]*\] exit 10\n$/);

    await writeFile(join(m.home, 'media', 'incoming', 'oops.png'), 'not a png');
    const third = await run();
    expect(third.stdout.trim()).toBe(`batchup exited 3, see ${m.home}/batchup/nightly.log`);
    const after = await readFile(join(m.home, 'batchup', 'nightly.log'), 'utf8');
    expect(after).toMatch(/rejected .*oops\.png: content is text, not PNG \(disguised\)/);
    expect(after).not.toContain(TOKEN);
  });

  it('systemd: the service runs in its WorkingDirectory with its EnvironmentFile; "nothing to do" is a success', async () => {
    const m = await machine();
    const service = ini(block('ini', '# ~/.config/systemd/user/batchup-nightly.service'));
    const timer = ini(block('ini', '# ~/.config/systemd/user/batchup-nightly.timer'));
    expect(service.Service!.Type).toEqual(['oneshot']);
    expect(timer.Timer!.OnCalendar).toEqual(['*-*-* 02:30']);
    expect(timer.Install!.WantedBy).toEqual(['timers.target']);
    const h = (v: string) => v.replace(/%h/g, m.home);

    // The env file the README shows, with the local sandbox's endpoint and token.
    const envFile = h(service.Service!.EnvironmentFile![0]!);
    const shown = block('sh', '# ~/.config/batchup/env');
    expect(shown).toMatch(/^BATCHUP_ENDPOINT=/m);
    await mkdir(dirname(envFile), { recursive: true });
    await writeFile(
      envFile,
      shown.replace(/^BATCHUP_ENDPOINT=.*$/m, `BATCHUP_ENDPOINT=${sandbox.bach}`).replace(/^BATCHUP_TOKEN=.*$/m, `BATCHUP_TOKEN=${TOKEN}`),
    );
    await chmod(envFile, 0o600);
    const env: Record<string, string> = { HOME: m.home, PATH: m.path };
    for (const l of (await readFile(envFile, 'utf8')).split('\n')) if (/^[A-Z_]+=/.test(l)) env[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);

    const [cmd, ...args] = h(service.Service!.ExecStart![0]!).split(/\s+/);
    const ok = new Set([0, ...service.Service!.SuccessExitStatus![0]!.split(/\s+/).map(Number)]);
    const run = () => execa(cmd!, args, { env, extendEnv: false, cwd: h(service.Service!.WorkingDirectory![0]!), reject: false });
    const first = await run();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/uploaded 12, skipped 0, rejected 0, failed 0/);
    const second = await run();
    expect(second.exitCode).toBe(10);
    expect(ok.has(second.exitCode!)).toBe(true);
    expect(second.stderr).toMatch(/uploaded 0, skipped 12/);
    expect(first.stderr + second.stderr).not.toContain(TOKEN);
  });
});

describe('--exit-nothing and --log-file', () => {
  it('--exit-nothing: only when nothing needed sending (all skipped, or no input); a rejection keeps the usual code', async () => {
    const d = await tempDir('batchup-nothing-');
    await writePngs(join(d, 'a'), 3, { seedBase: 61_000 });
    await mkdir(join(d, 'empty'));
    const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });
    const up = (...args: string[]) => cli(['upload', ...args, '--exit-nothing', '42'], { cwd: d, env });
    expect((await up('a')).exitCode).toBe(0);
    expect((await up('a')).exitCode).toBe(42);
    expect((await up('empty', '--manifest', 'e.json')).exitCode).toBe(42);
    expect((await cli(['upload', 'empty', '--manifest', 'e2.json'], { cwd: d, env })).exitCode).toBe(4);
    await writeFile(join(d, 'a', 'bad.png'), 'nope');
    expect((await up('a')).exitCode).toBe(3);
    expect((await up('a', '--dry-run', '--exclude', 'bad.png')).exitCode).toBe(42);
    for (const bad of ['3', '130', '256', 'x']) {
      const r = await cli(['upload', 'a', '--exit-nothing', bad], { cwd: d, env });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('--exit-nothing');
    }
  });

  it('--log-file appends timestamped plain lines whatever --quiet says, rotates by size, keeps --log-keep, never the token', async () => {
    const d = await tempDir('batchup-log-');
    await writePngs(join(d, 'a'), 4, { seedBase: 62_000 });
    await writeFile(join(d, 'a', `${TOKEN}.png`), 'text, not an image');
    const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });
    const log = join(d, 'logs', 'b.log');
    for (let i = 0; i < 6; i++) {
      const r = await cli(['upload', 'a', '--quiet', '--force', '--log-file', log, '--log-max-size', '1K', '--log-keep', '2', '--no-progress'], {
        cwd: d,
        env,
      });
      expect(r.exitCode).toBe(3);
    }
    const files = (await readdir(join(d, 'logs'))).sort();
    expect(files).toEqual(['b.log', 'b.log.1', 'b.log.2']);
    for (const f of files) {
      const text = await readFile(join(d, 'logs', f), 'utf8');
      expect(text.length).toBeLessThanOrEqual(1024);
      expect(text).not.toContain(TOKEN);
      for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] \S/);
    }
    const last = await readFile(log, 'utf8');
    expect(last).toMatch(/rejected .*\*\*\*\.png: content is text, not PNG \(disguised\)/);
    expect(last).toMatch(/uploaded 4, skipped 0, rejected 1, failed 0/);
  });
});
