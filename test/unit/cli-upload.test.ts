/**
 * The upload command's wiring, with core stubbed: settings → UploadOptions, events → renderer,
 * summary/errors → exit codes, --sandbox, and the graceful-abort signal.
 */
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchupError } from '../../src/core/errors.js';
import type { Emit, RunSummary } from '../../src/core/events.js';
import type { UploadOptions } from '../../src/core/options.js';

type Scenario = (opts: UploadOptions, emit: Emit, signal?: AbortSignal) => Promise<RunSummary>;
const h = vi.hoisted(() => ({
  scenario: undefined as unknown as Scenario,
  lastOpts: undefined as UploadOptions | undefined,
  lastProvider: undefined as { name: string } | undefined,
  lastProviderOptions: undefined as unknown,
  sandboxOpts: undefined as Record<string, unknown> | undefined,
  sandboxClosed: false,
}));

// The pipeline is stubbed: these tests are about the command's wiring (the real providers' flags
// and options, settings → UploadOptions, events → renderer, outcome → exit code).
vi.mock('../../src/core/pipeline.js', () => ({
  runUpload: async (provider: { name: string }, providerOptions: unknown, opts: UploadOptions, emit: Emit, signal?: AbortSignal) => {
    h.lastProvider = provider;
    h.lastProviderOptions = providerOptions;
    h.lastOpts = opts;
    return h.scenario(opts, emit, signal);
  },
}));
vi.mock('../../src/sandbox/index.js', () => ({
  startSandbox: async (o: Record<string, unknown>) => {
    h.sandboxOpts = o;
    h.sandboxClosed = false;
    return {
      url: 'http://127.0.0.1:4242',
      bachEndpoint: 'http://127.0.0.1:4242/api/vdr',
      dataDir: '/tmp/sbx',
      stats: () => ({}),
      close: async () => {
        h.sandboxClosed = true;
      },
    };
  },
}));

const { main } = await import('../../src/cli/main.js');

const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  uploaded: 2,
  skipped: 0,
  rejected: 0,
  failed: 0,
  bytes: 2000,
  durationMs: 1200,
  manifestPath: '/w/batchup-manifest.json',
  interrupted: false,
  dryRun: false,
  ...over,
});

function sink() {
  const chunks: string[] = [];
  return { chunks, text: () => chunks.join(''), write: (s: string) => (chunks.push(s), true), isTTY: false };
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(['node', 'batchup', 'upload', ...args], {
    stdout: stdout as never,
    stderr: stderr as never,
    stdin: Readable.from([]) as never,
    env: { BATCHUP_CONFIG_DIR: '/nonexistent-batchup-test', ...env },
    cwd: '/w',
  });
  return { code, out: stdout.text(), err: stderr.text() };
}

const TOKEN = { BATCHUP_TOKEN: 'tok-secret-0123456789' };

beforeEach(() => {
  h.lastOpts = undefined;
  h.sandboxOpts = undefined;
  h.scenario = async (_o, emit) => {
    const s = summary();
    emit({ type: 'scan', candidates: 2 });
    emit({ type: 'summary', summary: s });
    return s;
  };
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('upload command', () => {
  it('builds UploadOptions from flags, env and defaults', async () => {
    const r = await run(
      ['a.jpg', 'dir', '--concurrency', '3', '--mode', 'sync', '--max-retries', '2', '--timeout', '1.5', '--include', '*.jpg', '--include', '*.png'],
      TOKEN,
    );
    expect(r.code).toBe(0);
    expect(h.lastProvider?.name).toBe('bach');
    expect(h.lastOpts?.credentials?.origin).toBe('https://api-gen-na.bach.art');
    expect(await h.lastOpts?.credentials?.header()).toBe('Bearer tok-secret-0123456789');
    expect(h.lastOpts).toMatchObject({
      paths: ['a.jpg', 'dir'],
      endpoint: 'https://api-gen-na.bach.art/api/vdr',
      manifestPath: '/w/batchup-manifest.json',
      mode: 'sync',
      concurrency: 3,
      maxRetries: 2,
      timeoutMs: 1500,
      include: ['*.jpg', '*.png'],
      dryRun: false,
      cwd: '/w',
    });
    expect(r.err).toContain('uploaded 2, skipped 0, rejected 0, failed 0 — 2.0 kB in 1.2 s — manifest: /w/batchup-manifest.json');
    expect(r.out).toBe('');
  });

  it('maps the summary to exit codes', async () => {
    h.scenario = async () => summary({ uploaded: 1, rejected: 1 });
    expect((await run(['x'], TOKEN)).code).toBe(3);
    h.scenario = async () => summary({ uploaded: 0, rejected: 2 });
    expect((await run(['x'], TOKEN)).code).toBe(4);
  });

  it('a thrown AUTH error after the summary: summary, error with a hint, exit 5', async () => {
    h.scenario = async (_o, emit) => {
      emit({ type: 'summary', summary: summary({ uploaded: 0, failed: 2 }) });
      throw new BatchupError('AUTH', 'bach refused the token (HTTP 401)', { status: 401 });
    };
    const r = await run(['x'], TOKEN);
    expect(r.code).toBe(5);
    expect(r.err).toContain('uploaded 0, skipped 0, rejected 0, failed 2');
    expect(r.err).toContain('error: bach refused the token (HTTP 401)');
    expect(r.err).toContain('BATCHUP_TOKEN');
  });

  it('--json: only NDJSON on stdout, and the token never appears', async () => {
    h.scenario = async (_o, emit) => {
      emit({ type: 'scan', candidates: 1 });
      emit({ type: 'retry', batchId: 'b', attempt: 1, delayMs: 10, error: 'echo tok-secret-0123456789', code: 'HTTP_RETRYABLE' });
      const s = summary();
      emit({ type: 'summary', summary: s });
      return s;
    };
    const r = await run(['x', '--json'], TOKEN);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(['scan', 'retry', 'summary']);
    expect(r.out + r.err).not.toContain('tok-secret-0123456789');
    expect(r.err).toBe('');
  });

  it('--dry-run needs no token or endpoint; exit code from the plan', async () => {
    h.scenario = async (o, emit) => {
      emit({
        type: 'plan',
        provider: 'bach',
        dryRun: true,
        batches: [{ batchId: 'b1', mode: 'sync', reason: 'r', files: 3, images: 3, bytes: 30, sources: [] }],
      });
      return summary({ uploaded: 0, dryRun: o.dryRun, manifestPath: undefined });
    };
    const r = await run(['x', '--dry-run']);
    expect(r.code).toBe(0);
    expect(h.lastOpts?.dryRun).toBe(true);
    expect(r.err).toContain('  batch b1: sync, 3 files, 30 B — r');
    expect(r.err).toContain('dry run: would upload 3 files in 1 batch');
  });

  it('--sandbox starts a sandbox with a throwaway token, points the endpoint at it, and closes it', async () => {
    const r = await run(['x', '--sandbox', '--verbose']);
    expect(r.code).toBe(0);
    expect(h.lastOpts?.endpoint).toBe('http://127.0.0.1:4242/api/vdr');
    const token = h.sandboxOpts?.token as string;
    expect(token).toMatch(/^sandbox-[0-9a-f]{32}$/);
    expect(await h.lastOpts?.credentials?.header()).toBe(`Bearer ${token}`);
    expect(h.sandboxOpts).toMatchObject({ host: '127.0.0.1', port: 0, token });
    expect(h.sandboxClosed).toBe(true);
    expect(r.err).not.toContain(token!);
  });

  it('--sandbox keeps configured credentials (the sandbox is told to accept them)', async () => {
    await run(['x', '--sandbox'], TOKEN);
    expect(await h.lastOpts?.credentials?.header()).toBe('Bearer tok-secret-0123456789');
    expect(h.sandboxOpts?.token).toBe('tok-secret-0123456789');
  });

  it('an unknown provider is a usage error before any credential check', async () => {
    const r = await run(['x', '--provider', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown provider 'nope'");
  });

  it('SIGINT aborts the run gracefully: announcement, interrupted summary, exit 130', async () => {
    h.scenario = async (_o, emit, signal) => {
      emit({ type: 'plan', provider: 'bach', dryRun: false, batches: [] });
      process.emit('SIGINT', 'SIGINT');
      expect(signal?.aborted).toBe(true);
      return summary({ uploaded: 1, interrupted: true });
    };
    const before = process.listenerCount('SIGINT');
    const r = await run(['x'], TOKEN);
    expect(r.code).toBe(130);
    expect(r.err).toContain('interrupting… (press Ctrl-C again to exit now)');
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('missing credentials: config error naming the env var, flag and config key', async () => {
    const r = await run(['x', '--endpoint', 'https://api.example/api/vdr']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('BATCHUP_TOKEN');
    expect(r.err).toContain('--token-file');
    expect(r.err).toContain('config set token');
  });

  it('--json: a whole-run error is one NDJSON error event on stdout', async () => {
    const r = await run(['x', '--json', '--endpoint', 'https://api.example/api/vdr']);
    expect(r.code).toBe(2);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'error', code: 'CONFIG', exitCode: 2 });
    expect(r.err).toContain('error:');
  });

  it('provider flags: registered from Provider.flags, flag > env, warned about for other providers', async () => {
    let r = await run(['x', '--provider', 'aihub', '--batch-name', 'spring'], TOKEN);
    expect(r.code).toBe(0);
    expect(h.lastProviderOptions).toMatchObject({ batchName: 'spring' });
    expect(h.lastOpts?.endpoint).toBe('https://aihub.instabase.com/api');
    await run(['x', '--provider', 'aihub'], { ...TOKEN, BATCHUP_AIHUB_BATCH_NAME: 'from-env' });
    expect(h.lastProviderOptions).toMatchObject({ batchName: 'from-env' });
    r = await run(['x', '--batch-name', 'spring'], TOKEN);
    expect(h.lastProviderOptions).toEqual({});
    expect(r.err).toContain('--batch-name does not apply to provider bach; ignored');
    // A provider's usage error is found before the pipeline runs (nothing is read or written).
    h.lastOpts = undefined;
    r = await run(['x', '--provider', 'aihub'], TOKEN);
    expect(r.code).toBe(2);
    expect(r.err).toContain('aihub needs --batch-name');
    expect(h.lastOpts).toBeUndefined();
  });

  it('upload --help lists provider flags with their providers', async () => {
    const stdout: string[] = [];
    const code = await main(['node', 'batchup', 'upload', '--help'], {
      stdout: { write: (s: string) => (stdout.push(s), true), isTTY: false } as never,
      stderr: { write: () => true, isTTY: false } as never,
      env: {},
      cwd: '/w',
    });
    expect(code).toBe(0);
    expect(stdout.join('')).toMatch(/--batch-name <name>\s+name of the batch to create \(≤ 255 characters\)\s+\(aihub; env\s+BATCHUP_AIHUB_BATCH_NAME\)/);
  });
});
