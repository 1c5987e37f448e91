/**
 * `batchup serve`: run the sandbox server until SIGINT/SIGTERM.
 * stdout line 1 is the base URL (origin) and nothing else is ever written to stdout, so scripts
 * and tests can read it: `url=$(batchup serve | head -1)`. Human lines go to stderr.
 */
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { usageError } from '../../core/errors.js';
import { parseIntInRange, parsePositiveNumber } from '../../core/parse.js';
import { EXIT } from '../exit-codes.js';
import type { CliContext } from '../context.js';
import { addSecret, redact } from '../redact.js';
// faults.ts has no imports: the sandbox itself is loaded only when `serve` runs.
import { ALL_FAULT_KINDS, DEFAULT_FAULTS, type FaultKind } from '../../sandbox/faults.js';
import type { SandboxOptions } from '../../sandbox/server.js';

export interface ServeFlags {
  port?: string;
  host?: string;
  data?: string;
  faultRate?: string;
  faults?: string;
  seed?: string;
  retryAfter?: string;
  slowMs?: string;
  processMs?: string;
  /** hybrid: presigned URL lifetime, seconds. */
  presignTtl?: string;
  /** hybrid: fraction of presigned part PUTs that fail, and how. */
  partFaultRate?: string;
  partFaults?: string;
  accessKey?: string;
  secretKey?: string;
  token?: string;
  verbose?: boolean;
}

export type SandboxStartOptions = SandboxOptions & { host: string; port: number };

/** `--faults` / `--part-faults`: a comma list of known kinds, de-duplicated. */
function parseKinds(raw: string, flag: string): FaultKind[] {
  const kinds = raw.split(',').map((k) => k.trim()).filter(Boolean);
  const choices = `choose from ${ALL_FAULT_KINDS.join(',')}`;
  if (kinds.length === 0) throw usageError(`${flag} is empty (${choices})`);
  for (const k of kinds) {
    if (!(ALL_FAULT_KINDS as readonly string[]).includes(k)) throw usageError(`${flag}: unknown kind '${k}' (${choices})`);
  }
  return [...new Set(kinds)] as FaultKind[];
}

/** Turn flags (+ env for credentials) into sandbox options; throws USAGE errors. Pure. */
export function serveOptions(f: ServeFlags, env: NodeJS.ProcessEnv, cwd: string): { options: SandboxStartOptions; seedChosen: boolean } {
  const port = parseIntInRange(f.port ?? '0', 0, 65535, '--port');
  const host = (f.host ?? '127.0.0.1').trim();
  if (!host) throw usageError('--host is empty');
  const options: SandboxStartOptions = { host, port };
  if (f.data) options.dataDir = resolve(cwd, f.data);

  let seedChosen = false;
  const faults: NonNullable<SandboxOptions['faults']> = {};
  if (f.faultRate !== undefined) faults.rate = parsePositiveNumber(f.faultRate, '--fault-rate', { allowZero: true, max: 1 });
  if (f.faults !== undefined) {
    faults.kinds = parseKinds(f.faults, '--faults');
    // Kinds without a rate would inject nothing: default to 10 % so `--faults 429` does something.
    faults.rate ??= 0.1;
  }
  if (f.partFaultRate !== undefined) faults.partRate = parsePositiveNumber(f.partFaultRate, '--part-fault-rate', { allowZero: true, max: 1 });
  if (f.partFaults !== undefined) {
    faults.partKinds = parseKinds(f.partFaults, '--part-faults');
    faults.partRate ??= 0.1;
  }
  if (f.seed !== undefined) faults.seed = parseIntInRange(f.seed, 0, 2 ** 32 - 1, '--seed');
  if (f.retryAfter !== undefined) faults.retryAfterSec = parsePositiveNumber(f.retryAfter, '--retry-after', { allowZero: true });
  if (f.slowMs !== undefined) faults.slowMs = parseIntInRange(f.slowMs, 0, 3_600_000, '--slow-ms');
  if (((faults.rate ?? 0) > 0 || (faults.partRate ?? 0) > 0) && faults.seed === undefined) {
    faults.seed = randomInt(0, 2 ** 31);
    seedChosen = true;
  }
  if (Object.keys(faults).length) options.faults = faults;
  if (f.processMs !== undefined) options.processMsPerImage = parsePositiveNumber(f.processMs, '--process-ms', { allowZero: true });
  if (f.presignTtl !== undefined) options.presignTtlSec = parsePositiveNumber(f.presignTtl, '--presign-ttl', { max: 7 * 86_400 });

  const accessKey = f.accessKey ?? (env.BATCHUP_ACCESS_KEY || undefined);
  const secretKey = f.secretKey ?? (env.BATCHUP_SECRET_KEY || undefined);
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw usageError('give both --access-key and --secret-key (or BATCHUP_ACCESS_KEY and BATCHUP_SECRET_KEY), or neither');
  }
  if (accessKey && secretKey) {
    options.accessKey = accessKey;
    options.secretKey = secretKey;
  }
  const token = f.token ?? (env.BATCHUP_TOKEN || undefined);
  if (token) options.token = token;
  return { options, seedChosen };
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export async function runServeCommand(flags: ServeFlags, ctx: CliContext): Promise<number> {
  const { options, seedChosen } = serveOptions(flags, ctx.env, ctx.cwd);
  addSecret(options.token);
  addSecret(options.secretKey);
  const err = (line: string) => void ctx.stderr.write(redact(line) + '\n');
  if (flags.verbose) options.log = (line) => err(line);
  ctx.announce = () => err('stopping…');

  const { startSandbox } = await import('../../sandbox/index.js');
  const sb = await startSandbox(options);
  ctx.onForceExit(() => {
    /* the process is going away; the OS closes the socket */
  });
  ctx.stdout.write(`${sb.url}\n`);
  err(`sandbox listening on ${sb.url} — bach endpoint: ${sb.bachEndpoint} — aihub endpoint: ${sb.url}/api — data: ${sb.dataDir}`);
  if (!isLoopbackHost(options.host)) err(`warning: listening on ${options.host}, not loopback: anyone who can reach it can use it`);
  if (options.faults) {
    const f = options.faults;
    err(
      `faults: rate ${f.rate ?? 0}, kinds ${(f.kinds ?? DEFAULT_FAULTS.kinds).join(',')}, ` +
        `part rate ${f.partRate ?? 0}, part kinds ${(f.partKinds ?? DEFAULT_FAULTS.partKinds).join(',')}, seed ${f.seed ?? 'default'}` +
        (seedChosen ? ` (random; replay with --seed ${f.seed})` : ''),
    );
  }
  err('press Ctrl-C to stop');

  if (!ctx.signal.aborted) {
    await new Promise<void>((done) => ctx.signal.addEventListener('abort', () => done(), { once: true }));
  }
  await sb.close();
  err('sandbox stopped');
  return EXIT.OK;
}
