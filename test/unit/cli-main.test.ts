import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.js';

function sink() {
  const chunks: string[] = [];
  return {
    chunks,
    text: () => chunks.join(''),
    write(s: string | Uint8Array) {
      chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString());
      return true;
    },
    isTTY: false,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'batchup-cli-main-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}) {
  const stdout = sink();
  const stderr = sink();
  const io = {
    stdout,
    stderr,
    stdin: Readable.from(opts.stdin !== undefined ? [Buffer.from(opts.stdin)] : []),
    env: { BATCHUP_CONFIG_DIR: dir, ...opts.env },
    cwd: dir,
  } as unknown as CliIO;
  const code = await main(['node', 'batchup', ...args], io);
  return { code, out: stdout.text(), err: stderr.text() };
}

describe('main: commander wiring and exit codes', () => {
  it('--version and --help exit 0 on stdout', async () => {
    const v = await run(['--version']);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^\d+\.\d+\.\d+/);
    const h = await run(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('Exit codes:');
    expect(h.out).toContain('upload');
  });

  it('each command loads what it needs of the providers: --version nothing, upload their declarations, the help their modules', async () => {
    const { providersFor } = await import('../../src/cli/main.js');
    const of = (...args: string[]) => providersFor(['node', 'batchup', ...args]);
    expect(await of('--version')).toEqual({});
    expect(await of('serve', '--port', '0')).toEqual({});
    const upload = await of('upload', 'x', '--channel-id', 'c');
    expect(upload.modules).toBeUndefined();
    expect(upload.providers?.map((p) => p.name)).toContain('hybrid');
    expect(upload.providers?.flatMap((p) => p.flags.map((f) => f.flags))).toContain('--channel-id <id>');
    for (const args of [['--help'], ['--version', '--help'], ['batches', 'list']]) {
      const { modules } = await of(...args);
      expect(modules?.some((m) => m.commands?.length)).toBe(true);
    }
    expect((await run(['upload', 'x', '--channel-id', 'c', '--help'])).out).toContain('--channel-id');
  });

  it('unknown commands and options are usage errors (2)', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['upload', 'x', '--frob'])).code).toBe(2);
    expect((await run(['upload', 'x', '--mode', 'turbo'])).code).toBe(2);
    expect((await run(['upload', 'x', '--quiet', '--verbose'])).code).toBe(2);
  });

  it('bad numbers are usage errors naming the flag', async () => {
    for (const args of [
      ['--concurrency', 'abc'],
      ['--concurrency', '0'],
      ['--max-retries', '-1'],
      ['--timeout', '0'],
      ['--batch-id', 'has space'],
    ]) {
      const r = await run(['upload', 'x', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain(args[0]);
    }
  });

  it('nothing to upload is a usage error', async () => {
    const r = await run(['upload']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('nothing to upload');
  });

  it('--sandbox with --endpoint is a usage error', async () => {
    const r = await run(['upload', 'x', '--sandbox', '--endpoint', 'http://127.0.0.1:1']);
    expect(r.code).toBe(2);
  });
});

describe('main: config command', () => {
  it('set/get/list/unset/path round trip; secrets never printed', async () => {
    const token = 'tok_0123456789abcdef';
    expect((await run(['config', 'set', 'endpoint', 'https://api.example/api/vdr/'])).code).toBe(0);
    const set = await run(['config', 'set', 'token', '-'], { stdin: `${token}\n` });
    expect(set.code).toBe(0);
    expect(set.out + set.err).not.toContain(token);

    const get = await run(['config', 'get', 'endpoint']);
    expect(get.out).toBe('https://api.example/api/vdr\n');
    const getTok = await run(['config', 'get', 'token']);
    expect(getTok.out).toBe(`******** (${token.length} chars)\n`);

    const list = await run(['config', 'list'], { env: { BATCHUP_ENDPOINT: 'https://env.example' } });
    expect(list.out).toContain('endpoint = https://api.example/api/vdr  (overridden by BATCHUP_ENDPOINT)');
    expect(list.out).toContain('token = ********');
    expect(list.out + list.err).not.toContain(token);

    const path = (await run(['config', 'path'])).out.trim();
    expect(path.startsWith(dir)).toBe(true);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);

    expect((await run(['config', 'unset', 'token'])).code).toBe(0);
    const gone = await run(['config', 'get', 'token']);
    expect(gone.out).toBe('');
    expect(gone.err).toContain('not set');
    expect(gone.code).toBe(1); // as `git config`: scripts can tell "not set"
  });

  it('path creates nothing; list says when nothing is set', async () => {
    const fresh = join(dir, 'never-made');
    const path = await run(['config', 'path'], { env: { BATCHUP_CONFIG_DIR: fresh } });
    expect(path.out.trim()).toBe(join(fresh, 'config.json'));
    await expect(stat(fresh)).rejects.toMatchObject({ code: 'ENOENT' });
    const list = await run(['config', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toBe('');
    expect(list.err).toMatch(/nothing is set \(config file: .*config\.json/);
  });

  it('a token given positionally works but prints a tip, never the value', async () => {
    const r = await run(['config', 'set', 'token', 'positional-token-value']);
    expect(r.code).toBe(0);
    expect(r.err).toContain('config set token -');
    expect(r.out + r.err).not.toContain('positional-token-value');
  });

  it('bad keys and values are usage errors', async () => {
    expect((await run(['config', 'set', 'colour', 'blue'])).code).toBe(2);
    expect((await run(['config', 'get', 'colour'])).code).toBe(2);
    expect((await run(['config', 'set', 'concurrency', 'many'])).code).toBe(2);
    expect((await run(['config', 'set', 'mode', 'turbo'])).code).toBe(2);
    expect((await run(['config', 'set', 'endpoint', 'not a url'])).code).toBe(2);
    // The same rules as the flags: a provider the registry does not know is refused.
    const nope = await run(['config', 'set', 'provider', 'nope']);
    expect(nope.code).toBe(2);
    expect(nope.err).toContain("unknown provider 'nope'");
    expect((await run(['config', 'set', 'provider', 'hybrid'])).code).toBe(0);
  });
});

describe('help', () => {
  it('every command and subcommand ends its help with 2–4 real examples; no promise of protocols that do not exist', async () => {
    const { buildProgram } = await import('../../src/cli/main.js');
    const modules = await (await import('../../src/providers/registry.js')).loadProviders();
    const noop = () => undefined;
    const program = buildProgram({ json: false, verbose: false, errorShown: false } as never, {
      setExit: noop,
      installSignals: noop,
      providers: modules,
      modules,
    });
    const walk = (c: import('commander').Command, path: string[]): [string, import('commander').Command][] => [
      [path.join(' '), c],
      ...c.commands.flatMap((sub) => walk(sub, [...path, sub.name()])),
    ];
    const all = walk(program, ['batchup']);
    expect(all.length).toBeGreaterThan(15);
    for (const [name, c] of all) {
      let text = '';
      c.configureOutput({ writeOut: (str) => void (text += str) });
      c.outputHelp();
      const tail = text.slice(text.lastIndexOf('Examples:'));
      const lines = tail
        .split('\n')
        .slice(1)
        .filter((l) => l.startsWith('  batchup') || l.startsWith('  BATCHUP') || /^ {2}[a-z]/.test(l));
      expect(text, name).toContain('Examples:');
      expect(lines.length, `${name}: ${tail}`).toBeGreaterThanOrEqual(2);
      expect(lines.length, name).toBeLessThanOrEqual(4);
      expect(text, name).not.toMatch(/all five protocols/);
    }
  });
});
