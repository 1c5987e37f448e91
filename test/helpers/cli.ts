/**
 * End-to-end helpers: run the BUILT CLI (bin/batchup.js) with execa, and start a real
 * `batchup serve` sandbox on a free loopback port.
 */
import { execa, type Options, type Result } from 'execa';
import { afterAll } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SandboxStats } from '../../src/sandbox/index.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'batchup.js');

export const tempDir = (prefix = 'batchup-e2e-') => mkdtemp(join(tmpdir(), prefix));

/** What would change the CLI's output when the tests themselves run in CI (annotations, an Indexed Job's shard). */
const HOST_CI = new Set(['GITHUB_ACTIONS', 'GITHUB_STEP_SUMMARY', 'GITHUB_WORKSPACE', 'JOB_COMPLETION_INDEX']);

/** Environment without any BATCHUP_* from the developer's shell (nor the host CI's GitHub variables), and with a private config dir. */
export function cleanEnv(extra: Record<string, string> = {}, configDir?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('BATCHUP_') && !HOST_CI.has(k)) env[k] = v;
  delete env.FORCE_COLOR;
  env.BATCHUP_CONFIG_DIR = configDir ?? join(tmpdir(), `batchup-cfg-${process.pid}-${Math.random().toString(36).slice(2)}`);
  env.NO_COLOR = '1';
  return { ...env, ...extra };
}

export async function cli(args: string[], opts: Options & { env?: Record<string, string> } = {}): Promise<Result> {
  return execa('node', [BIN, ...args], { reject: false, cwd: ROOT, ...opts, env: opts.env ?? cleanEnv(), extendEnv: false }) as Promise<Result>;
}

export interface ServeHandle {
  url: string;
  bach: string;
  dataDir: string;
  proc: ChildProcess;
  stats(): Promise<SandboxStats>;
  stop(): Promise<void>;
}

export type { SandboxStats } from '../../src/sandbox/index.js';

/** Start `batchup serve` and read its base URL from the first stdout line. */
export async function serve(args: string[] = [], env?: Record<string, string>): Promise<ServeHandle> {
  const dataDir = await tempDir('batchup-serve-');
  const proc = execa('node', [BIN, 'serve', '--port', '0', '--data', dataDir, ...args], { env: env ?? cleanEnv(), extendEnv: false, reject: false });
  const rl = createInterface({ input: proc.stdout! });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('batchup serve did not print its URL')), 60_000);
    rl.once('line', (line) => {
      clearTimeout(timer);
      resolveUrl(line.trim());
    });
    proc.catch(reject);
  });
  return {
    url,
    bach: `${url}/api/vdr`,
    dataDir,
    proc,
    async stats() {
      const res = await fetch(`${url}/_sandbox/stats`);
      return (await res.json()) as SandboxStats;
    },
    async stop() {
      proc.kill('SIGTERM');
      await proc;
    },
  };
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
export const sha256File = async (path: string) => sha256(await readFile(path));

/**
 * Sandboxes for one test file, each started with `base` and its own extra args, all stopped
 * once the file's tests are done (call at the top level of the file).
 */
export function sandboxes(base: string[]): (args?: string[]) => Promise<ServeHandle> {
  const started: ServeHandle[] = [];
  afterAll(async () => {
    for (const sb of started) await sb.stop().catch(() => undefined);
  });
  return async (args = []) => {
    const sb = await serve([...base, ...args]);
    started.push(sb);
    return sb;
  };
}

export async function readJson<T = any>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

export async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
